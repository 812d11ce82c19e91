"""Bearer-key authentication and role checks for the HTTP API (FastAPI dependencies)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import ApiError
from api.keys import Principal, Role
from api.runtime import runtime_of

bearer = HTTPBearer(
    auto_error=False,
    description="An API key from EXECLAYER_API_KEYS: `Authorization: Bearer <key>`.",
)


def require(role: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting keys whose role is `role` or above."""

    async def dependency(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Security(bearer),  # noqa: B008
    ) -> Principal:
        runtime = runtime_of(request)
        principal = runtime.keys.match(credentials.credentials if credentials else None)
        if principal is None:
            raise ApiError(
                401,
                "unauthorized",
                "a valid API key is required: Authorization: Bearer <key>",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not principal.can(role):
            raise ApiError(
                403,
                "forbidden",
                f"the {principal.role.value} role may not do this (needs {role.value} or above)",
            )
        request.state.principal = principal
        return principal

    return dependency


viewer = require(Role.VIEWER)
operator = require(Role.OPERATOR)
approver = require(Role.APPROVER)
