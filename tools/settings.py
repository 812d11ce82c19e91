"""Settings of contract section 8, from the environment (prefix `EXECLAYER_`) or a `.env` file.

Secrets are `SecretStr`: they never appear in a repr, a log line or an error message.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_HOME = Path(".execlayer")
ROLES = ("viewer", "operator", "approver", "admin")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="EXECLAYER_", env_file=".env", extra="ignore", frozen=True
    )

    home: Path = DEFAULT_HOME
    db_url: str | None = None
    policy: Path | None = None

    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str | None = None
    llm_timeout_s: float = 20.0  # total per LLM call, retries included
    llm_request_timeout_s: float = 10.0  # one HTTP attempt (capped by what is left of the total)
    llm_max_attempts: int = 4
    llm_temperature: float | None = 0.0  # blank = let the endpoint choose (reasoning models)

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_channel: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_approvers: str = ""

    api_keys: SecretStr | None = None
    memory_url: str | None = None  # chromadb server (http://host:8000); unset = files under home
    test_database_url: str | None = None

    @field_validator("db_url", "llm_base_url", "llm_model", "slack_channel", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("llm_temperature", "memory_url", mode="before")
    @classmethod
    def _blank_is_unset_too(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def database_url(self) -> str:
        """The store's URL: `EXECLAYER_DB_URL`, or a SQLite file under the home directory."""
        if self.db_url:
            return self.db_url
        return f"sqlite:///{(self.home / 'execlayer.db').as_posix()}"

    @property
    def memory_dir(self) -> Path:
        return self.home / "memory"

    @property
    def llm_configured(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)

    @property
    def slack_configured(self) -> bool:
        return bool(self.slack_bot_token and self.slack_signing_secret and self.slack_channel)

    @cached_property
    def slack_approver_ids(self) -> frozenset[str]:
        return frozenset(u.strip() for u in self.slack_approvers.split(",") if u.strip())

    @cached_property
    def api_key_roles(self) -> dict[str, str]:
        """`key1:approver,key2:viewer` -> {key: role}. A malformed entry is an error."""
        if self.api_keys is None:
            return {}
        roles: dict[str, str] = {}
        for i, entry in enumerate(self.api_keys.get_secret_value().split(",")):
            if not entry.strip():
                continue
            key, sep, role = entry.strip().rpartition(":")
            if not sep or not key or role not in ROLES:
                raise ValueError(
                    f"EXECLAYER_API_KEYS entry {i + 1} must be KEY:ROLE with ROLE one of "
                    f"{', '.join(ROLES)}"
                )
            roles[key] = role
        return roles
