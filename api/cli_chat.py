"""`execlayer chat`: the ops assistant in a terminal (rich rendering, no server needed).

Works on the store directly through the sync `Resolver`, like `execlayer approvals`. Who
you are:
- with `--key KEY` (or `EXECLAYER_API_KEY`): the owner and role of that key in
  `EXECLAYER_API_KEYS` (an unknown key is refused; nothing starts);
- without a key: a local operator named `cli:<os user>`: you may read, simulate and submit
  exceptions; approving or rejecting needs an approver key (`execlayer approvals` is the
  keyless terminal path for approvals, recorded as `cli:<os user>`).
Type `help` for the commands, `exit` (or Ctrl-D) to leave.
"""

from __future__ import annotations

import uuid

import typer
from rich.console import Console, Group
from rich.panel import Panel
from rich.text import Text

from agents.assistant import Asker, Assistant, AssistantBackend, ChatAnswer, secrets_of
from agents.assistant.models import RoleName
from agents.resolver import Resolver
from api.keys import ApiKeyError, KeyRing
from api.options import ApiOptions
from api.terminal_approvals import actor, fail
from tools.settings import Settings

EXIT_WORDS = frozenset({"exit", "quit", ":q", "bye"})
STATUS_STYLE = {"ok": "green", "refused": "red", "invalid": "yellow", "error": "red"}


def asker_for(settings: Settings, key: str | None) -> Asker:
    if not key:
        return Asker(name=actor(), role="operator", channel="cli")
    try:
        ring = KeyRing.from_env_value(
            settings.api_keys.get_secret_value() if settings.api_keys else None
        )
    except ApiKeyError as exc:
        fail(str(exc))
    principal = ring.match(key)
    if principal is None:
        fail("--key / EXECLAYER_API_KEY matches no entry of EXECLAYER_API_KEYS")
    role: RoleName = principal.role.value
    return Asker(name=principal.name, role=role, channel="cli")


def rendered(answer: ChatAnswer) -> Panel:
    parts: list[Text] = [Text(answer.answer)]  # Text: nothing in an answer is rich markup
    if answer.tool_calls:
        line = Text("tools: ", style="dim")
        for i, call in enumerate(answer.tool_calls):
            if i:
                line.append(", ", style="dim")
            line.append(call.tool, style="bold")
            line.append(f" {call.status}", style=STATUS_STYLE.get(call.status, "dim"))
        parts.append(line)
    border = {"llm": "cyan", "llm_unavailable": "yellow"}.get(answer.mode, "blue")
    return Panel(Group(*parts), title=f"assistant · {answer.mode}", border_style=border)


def run_chat(db: str | None, key: str | None, session: str | None) -> None:
    settings = Settings()
    asker = asker_for(settings, key)
    out = Console()
    session_id = session or f"terminal-{uuid.uuid4().hex[:8]}"
    # EXECLAYER_PRECEDENT_MEMORY=false leaves chromadb out, as for `execlayer serve`.
    memory = ApiOptions().precedent_memory
    with Resolver.open(settings, db_url=db, use_memory=memory) as resolver:
        client = getattr(resolver.context.advisor, "client", None)
        assistant = Assistant(
            AssistantBackend.from_resolver(resolver), llm=client, secrets=secrets_of(settings)
        )
        llm = "LLM on" if client is not None else "commands only (no LLM configured)"
        out.print(
            Text.assemble(
                ("execlayer assistant", "bold"),
                f" · {asker.name} ({asker.role}) · {llm} · `help` for commands, `exit` to leave",
            )
        )
        while True:
            try:
                message = out.input("[bold cyan]you>[/] ")
            except (EOFError, KeyboardInterrupt):
                out.print()
                break
            if message.strip().lower() in EXIT_WORDS:
                break
            if not message.strip():
                continue
            try:
                answer = assistant.ask(asker, session_id, message)
            except ValueError as exc:
                out.print(Text(f"error: {exc}", style="red"))
                continue
            out.print(rendered(answer))
    raise typer.Exit(code=0)
