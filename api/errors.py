"""One typed error answer for every failure (`ErrorBody`), and the handlers that make it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.schemas import ErrorBody, ErrorCode, FieldProblem
from tools.decisions import Decision
from tools.inputs import InputError, field_path

log = logging.getLogger(__name__)

SOURCES = frozenset({"body", "query", "path", "header", "cookie"})
HTTP_CODES: dict[int, ErrorCode] = {
    400: "validation_error",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "not_found",
    409: "conflict",
    422: "validation_error",
    501: "not_implemented",
    503: "unavailable",
}


class ApiError(Exception):
    """Raised by routes; rendered as `ErrorBody` with the given status."""

    def __init__(
        self,
        status: int,
        code: ErrorCode,
        message: str,
        *,
        fields: list[FieldProblem] | None = None,
        decision: Decision | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = ErrorBody(error=code, message=message, fields=fields or [], decision=decision)
        self.headers = dict(headers or {})


def problems_of(exc: InputError) -> list[FieldProblem]:
    """`InputError` problems are `field: message`; split them (a bare message is the
    document's)."""
    out = []
    for problem in exc.problems:
        field, sep, message = problem.partition(": ")
        if sep and field and " " not in field:
            out.append(FieldProblem(field=field, message=message))
        else:
            out.append(FieldProblem(field="(document)", message=problem))
    return out


def input_error(exc: InputError) -> ApiError:
    return ApiError(422, "validation_error", str(exc), fields=problems_of(exc))


def validation_problems(errors: list[Any]) -> list[FieldProblem]:
    out = []
    for err in errors:
        loc = tuple(err.get("loc") or ())
        if loc and loc[0] in SOURCES:
            loc = loc[1:]
        loc = tuple(p for p in loc if not (isinstance(p, str) and p.startswith("function-")))
        if err.get("type") == "json_invalid":
            field = "(document)"
            message = f"invalid JSON: {err.get('ctx', {}).get('error', err.get('msg'))}"
        else:
            field = field_path(loc)
            message = str(err.get("msg", "invalid"))
        out.append(FieldProblem(field=field, message=message))
    return out


def error_response(status: int, body: ErrorBody, headers: Mapping[str, str] | None = None) -> Any:
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(request: Request, exc: Exception) -> Any:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.body, exc.headers)

    async def on_validation(request: Request, exc: Exception) -> Any:
        assert isinstance(exc, RequestValidationError)
        fields = validation_problems(list(exc.errors()))
        listed = "; ".join(f"{f.field}: {f.message}" for f in fields[:10])
        body = ErrorBody(
            error="validation_error", message=f"invalid request: {listed}", fields=fields
        )
        return error_response(422, body)

    async def on_http(request: Request, exc: Exception) -> Any:
        assert isinstance(exc, StarletteHTTPException)
        code = HTTP_CODES.get(exc.status_code, "internal")
        body = ErrorBody(error=code, message=str(exc.detail))
        return error_response(exc.status_code, body, getattr(exc, "headers", None))

    async def on_database(request: Request, exc: Exception) -> Any:
        # The store is unreachable or failing: a clear 503, never a 500, and never the SQL or
        # its parameters (they hold request data) in the answer.
        assert isinstance(exc, DBAPIError)
        log.warning(
            "store unavailable during %s %s: %s",
            request.method,
            request.url.path,
            type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__,
        )
        body = ErrorBody(
            error="unavailable",
            message=(
                "the store (database) is unavailable; retry later. Steps already completed "
                "are kept and an interrupted resolution resumes when the store is back."
            ),
        )
        return error_response(503, body, {"Retry-After": "5"})

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(DBAPIError, on_database)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No or unknown API key"},
    403: {"model": ErrorBody, "description": "The key's role may not do this"},
    422: {"model": ErrorBody, "description": "Bad input: the fields at fault are named"},
}
