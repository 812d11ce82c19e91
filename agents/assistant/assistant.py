"""The ops assistant: `Assistant.ask(asker, session_id, message) -> ChatAnswer`.

A message in the command grammar (`agents.assistant.grammar`) is answered deterministically
from the tools, with or without an LLM. Anything else goes to the LLM tool-calling loop when
an endpoint is configured; otherwise the answer says plainly that free-form questions need
one, and lists the commands. Every message, tool call (with its result) and answer is
written to the store's append-only `chat_log`, and returned in the answer. Answers are
redacted of the installation's secrets and of anything shaped like a credential.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from agents.assistant.backend import AssistantBackend
from agents.assistant.grammar import HELP, NEEDS_LLM, parse
from agents.assistant.models import Asker, ChatAnswer, ToolCallRecord
from agents.assistant.redaction import Redactor
from agents.assistant.render import render
from agents.assistant.session import SessionStore, Turn
from agents.assistant.tools import ToolRegistry
from tools.settings import Settings

if TYPE_CHECKING:  # openai is imported only when an LLM is configured
    from agents.llm_client import LlmClient
    from agents.llm_failures import LlmFailure

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 4000


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value the settings hold (API keys, tokens, signing secrets)."""
    found: list[str] = []
    for value in (settings.llm_api_key, settings.slack_bot_token, settings.slack_signing_secret):
        if value is not None:
            found.append(value.get_secret_value())
    if settings.api_keys is not None:
        for entry in settings.api_keys.get_secret_value().split(","):
            secret = entry.strip().rpartition(":")[0]
            found.append(secret.partition("=")[2] or secret)
            found.append(secret)
    return [s for s in found if s]


class Assistant:
    def __init__(
        self,
        backend: AssistantBackend,
        *,
        llm: LlmClient | None = None,
        sessions: SessionStore | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        self.backend = backend
        self.registry = ToolRegistry(backend)
        self.llm = llm
        self.sessions = sessions or SessionStore()
        self.redact = Redactor(secrets)

    @property
    def llm_configured(self) -> bool:
        return self.llm is not None

    def ask(self, asker: Asker, session_id: str, message: str) -> ChatAnswer:
        """Answer one message (see module docstring). Raises ValueError only for a message or
        session id out of bounds (nothing is recorded then)."""
        if not session_id or len(session_id) > 255:
            raise ValueError("session_id: must be 1 to 255 characters")
        if len(message) > MAX_MESSAGE_CHARS:
            raise ValueError(f"message: at most {MAX_MESSAGE_CHARS} characters")
        message = message.strip()
        session_key = f"{asker.channel}:{session_id}"
        self._log(asker, session_key, "message", {"text": message})
        answer = self._answer(asker, session_key, message)
        answer.session_id = session_id
        answer.answer = self.redact(answer.answer)
        for call in answer.tool_calls:
            self._log(asker, session_key, "tool_call", call.model_dump(mode="json"))
        self._log(
            asker,
            session_key,
            "answer",
            {"text": answer.answer, "mode": answer.mode, "llm_failure": answer.llm_failure},
        )
        self.sessions.append(
            asker.name, session_key, Turn("user", message), Turn("assistant", answer.answer)
        )
        return answer

    def _answer(self, asker: Asker, session_key: str, message: str) -> ChatAnswer:
        parsed = parse(message)
        if parsed.help:
            return ChatAnswer(session_id=session_key, answer=HELP, mode="commands")
        if parsed.problem is not None:
            return ChatAnswer(
                session_id=session_key,
                answer=f"{parsed.problem[:1].upper()}{parsed.problem[1:]}.",
                mode="commands",
            )
        if parsed.tool is not None:
            call = self.registry.call(asker, parsed.tool, parsed.arguments)
            return ChatAnswer(
                session_id=session_key, answer=render(call), mode="commands", tool_calls=[call]
            )
        if self.llm is None:
            return ChatAnswer(
                session_id=session_key, answer=f"{NEEDS_LLM}\n\n{HELP}", mode="commands"
            )
        from agents.assistant.llm_loop import run_llm

        history = self.sessions.history(asker.name, session_key)
        result = run_llm(self.llm, self.registry, asker, history, message)
        if result.failure is not None or not result.answer:
            return self._unavailable(session_key, result.calls, result.failure)
        return ChatAnswer(
            session_id=session_key, answer=result.answer, mode="llm", tool_calls=result.calls
        )

    def _unavailable(
        self, session_key: str, calls: list[ToolCallRecord], failure: LlmFailure | None
    ) -> ChatAnswer:
        from agents.assistant.llm_loop import failure_sentence

        why = (
            failure_sentence(failure)
            if failure is not None
            else "the language model gave an empty answer"
        )
        changed = [
            c
            for c in calls
            if c.status == "ok" and c.tool in ("submit_exception", "decide_approval")
        ]
        done = (
            "Before that, it did: " + "; ".join(render(c).splitlines()[0] for c in changed)
            if changed
            else "Nothing was changed."
        )
        text = (
            f"I could not answer that: {why}. {done} The commands below work without the "
            f"language model.\n\n{HELP}"
        )
        return ChatAnswer(
            session_id=session_key,
            answer=text,
            mode="llm_unavailable",
            tool_calls=calls,
            llm_failure=failure.kind.value if failure is not None else "malformed",
        )

    def _log(self, asker: Asker, session_key: str, kind: str, payload: dict[str, Any]) -> None:
        clean = {k: _redacted(self.redact, v) for k, v in payload.items()}
        self.backend.store.append_chat_log(
            session_key, asker.name, asker.role, asker.channel, kind, clean
        )


def _redacted(redact: Redactor, value: object) -> object:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redacted(redact, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(redact, v) for v in value]
    return value
