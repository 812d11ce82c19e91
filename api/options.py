"""Settings of the server itself (beyond contract section 8), from `EXECLAYER_*` too."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiOptions(BaseSettings):
    """`EXECLAYER_PUBLIC_URL`: where people reach the console (links in Slack);
    `EXECLAYER_CONSOLE_SECRET`: signs console sessions (default: derived from the API keys,
    so sessions survive restarts and end when the keys change);
    `EXECLAYER_SLACK_DIGEST_MINUTES`: how often auto-resolutions are rolled up into one
    Slack message; `EXECLAYER_OUTBOX_POLL_S`: how often the outbox is checked."""

    model_config = SettingsConfigDict(
        env_prefix="EXECLAYER_", env_file=".env", extra="ignore", frozen=True
    )

    public_url: str | None = None
    console_secret: SecretStr | None = None
    session_hours: float = Field(default=12.0, gt=0)
    slack_digest_minutes: float = Field(default=15.0, ge=0)
    outbox_poll_s: float = Field(default=2.0, gt=0)
    outbox_max_attempts: int = Field(default=8, ge=1)
    outbox_backoff_s: float = Field(default=5.0, gt=0)
    outbox_max_backoff_s: float = Field(default=900.0, gt=0)
    dispatch_outbox: bool = True  # run the outbox dispatcher inside the server
    precedent_memory: bool = True  # EXECLAYER_PRECEDENT_MEMORY=false: no chromadb precedents
    recover_on_start: bool = True

    @field_validator("public_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value
