"""`execlayer chat` through a pseudo-terminal: spawn the command, type, read, `exit`."""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents.resolver import Resolver
from api.cli import app
from api.terminal_approvals import actor
from tests.agents.graph.fakes import settings_for
from tests.api.conftest import API_KEYS, KEYS
from tests.conftest import CONTRACT_EXAMPLES
from tools.events import ExceptionEvent
from tools.inputs import load_snapshot
from tools.store import Store

TIMEOUT_S = 60.0
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
runner = CliRunner()


def execlayer() -> list[str]:
    script = Path(sys.executable).parent / "execlayer"
    return [str(script)] if script.exists() else [sys.executable, "-m", "api.cli"]


class Terminal:
    """A child process on a pty: `expect` reads (colours stripped) until a text appears,
    `type` sends a line."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            args, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd, close_fds=True
        )
        os.close(slave)
        self.seen = ""

    def expect(self, text: str) -> str:
        deadline = time.monotonic() + TIMEOUT_S
        while text not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"{text!r} not seen; got:\n{self.seen[-3000:]}"
            ready, _, _ = select.select([self.master], [], [], min(left, 0.5))
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # the child closed the pty
                    chunk = b""
                if not chunk and self.proc.poll() is not None:
                    assert text in self.seen, f"{text!r} not seen; got:\n{self.seen[-3000:]}"
                self.seen += ANSI.sub("", chunk.decode("utf-8", "replace"))
        found = self.seen
        self.seen = found[found.index(text) + len(text) :]
        return found

    def type(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def close(self) -> int:
        try:
            return self.proc.wait(TIMEOUT_S)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            os.close(self.master)


@pytest.fixture
def store_url(tmp_path: Path, sqlite_template: Path) -> str:
    shutil.copyfile(sqlite_template, tmp_path / "store.db")
    with Resolver.open(settings_for(tmp_path), use_memory=False) as resolver:
        resolver.store.load_snapshot(load_snapshot(CONTRACT_EXAMPLES / "network-northeast.json"))
        event = (CONTRACT_EXAMPLES / "events" / "EX-P4.json").read_text()
        resolver.resolve(ExceptionEvent.model_validate_json(event))
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("EXECLAYER_")}
    yield keep | {
        "EXECLAYER_HOME": str(tmp_path / "home"),
        "EXECLAYER_PRECEDENT_MEMORY": "false",
        "EXECLAYER_API_KEYS": API_KEYS,
        "COLUMNS": "120",
        "TERM": "xterm",
    }


def test_chat_in_a_terminal(store_url: str, env: dict[str, str], tmp_path: Path) -> None:
    """One real terminal session (a process start costs seconds on a shared machine): an
    approver key from EXECLAYER_API_KEY, a read, an approval, then `exit`."""
    env = env | {"EXECLAYER_API_KEY": KEYS["approver"]}
    term = Terminal([*execlayer(), "chat", "--db", store_url], env, tmp_path)
    try:
        banner = term.expect("you>")
        assert "alice (approver)" in banner and "commands only" in banner
        term.type("status O-1001")
        answer = term.expect("you>")
        assert "Order O-1001: allocated, at STORE-BOS" in answer
        assert "order_status ok" in answer and "assistant · commands" in answer
        term.type("approve AP-EX-P4 typed in a terminal")
        assert "EX-P4: resolved." in term.expect("you>")
        term.type("exit")
        assert term.close() == 0
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
    with Store.open(store_url) as store:
        approval = store.get_approval("AP-EX-P4")
        assert approval is not None and approval.decided_by == "alice"
        assert approval.comment == "typed in a terminal"
        assert [e.kind for e in store.chat_log()] == ["message", "tool_call", "answer"] * 2


def test_without_a_key_the_terminal_user_is_a_local_operator(
    store_url: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = runner.invoke(
        app, ["chat", "--db", store_url], input="approve AP-EX-P4\nhealth\n\nquit\n"
    )
    assert result.exit_code == 0, result.output
    assert "(operator)" in result.output
    assert "Not allowed: decide_approval needs the approver role" in result.output
    assert "Nodes by utilisation" in result.output
    with Store.open(store_url) as store:
        approval = store.get_approval("AP-EX-P4")
        assert approval is not None and approval.status.value == "pending"
        assert {e.actor for e in store.chat_log()} == {actor()}


def test_an_unknown_key_is_refused(
    store_url: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = runner.invoke(app, ["chat", "--db", store_url, "--key", "nope"], input="pending\n")
    assert result.exit_code == 2
    assert "matches no entry of EXECLAYER_API_KEYS" in result.output
    with Store.open(store_url) as store:
        assert store.chat_log() == []
