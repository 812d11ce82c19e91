"""Who asks, what the assistant did, and what it answers (pydantic, JSON at every face)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RoleName = Literal["viewer", "operator", "approver", "admin"]
ROLE_ORDER: tuple[RoleName, ...] = ("viewer", "operator", "approver", "admin")
Channel = Literal["api", "slack", "console", "cli"]


def role_allows(role: RoleName, needed: RoleName) -> bool:
    """viewer < operator < approver < admin: each may do what the ones before it may."""
    return ROLE_ORDER.index(role) >= ROLE_ORDER.index(needed)


class Asker(BaseModel):
    """The person asking: a name (recorded as who decided) and a role (what they may do).
    Faces build it from an API key, a console session, a Slack user or the OS user."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    role: RoleName
    channel: Channel = "api"

    def can(self, needed: RoleName) -> bool:
        return role_allows(self.role, needed)


class ToolCallRecord(BaseModel):
    """One tool call as it happened: the arguments asked for, and the result or why not."""

    model_config = ConfigDict(extra="forbid")

    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    status: Literal["ok", "refused", "invalid", "error"]
    result: dict[str, Any] | None = None
    error: str | None = None
    requested_by: Literal["command", "llm"] = "command"


class ChatAnswer(BaseModel):
    """What the assistant answers: the text, and every tool call behind it."""

    model_config = ConfigDict(extra="forbid")

    session_id: str
    answer: str
    mode: Literal["commands", "llm", "llm_unavailable"]
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)
    llm_failure: str | None = None
