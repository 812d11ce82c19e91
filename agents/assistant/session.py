"""Conversation state per session: bounded in turns, characters and number of sessions.

A session is keyed by (asker name, session id), so one person can never read or continue
another's conversation by guessing a session id. The oldest turns drop out first; the least
recently used session is forgotten when there are too many; an idle session expires.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

MAX_TURNS = 12  # user + assistant messages kept per session
MAX_TURN_CHARS = 2000  # each kept message is cut to this
MAX_SESSIONS = 1000
IDLE_EXPIRY_S = 4 * 3600.0


@dataclass(frozen=True)
class Turn:
    role: Literal["user", "assistant"]
    content: str


@dataclass
class Session:
    turns: list[Turn] = field(default_factory=list)
    touched: float = 0.0


class SessionStore:
    """Thread-safe, in-process conversation memory (see module docstring)."""

    def __init__(
        self,
        *,
        max_turns: int = MAX_TURNS,
        max_sessions: int = MAX_SESSIONS,
        idle_expiry_s: float = IDLE_EXPIRY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_turns < 2 or max_sessions < 1 or idle_expiry_s <= 0:
            raise ValueError("max_turns >= 2, max_sessions >= 1 and idle_expiry_s > 0 needed")
        self.max_turns = max_turns
        self.max_sessions = max_sessions
        self.idle_expiry_s = idle_expiry_s
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: OrderedDict[tuple[str, str], Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def history(self, asker: str, session_id: str) -> list[Turn]:
        with self._lock:
            session = self._live(asker, session_id)
            return list(session.turns) if session is not None else []

    def append(self, asker: str, session_id: str, *turns: Turn) -> None:
        with self._lock:
            key = (asker, session_id)
            session = self._live(asker, session_id) or Session()
            session.turns.extend(Turn(t.role, t.content[:MAX_TURN_CHARS]) for t in turns)
            del session.turns[: max(0, len(session.turns) - self.max_turns)]
            session.touched = self._clock()
            self._sessions[key] = session
            self._sessions.move_to_end(key)
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)

    def _live(self, asker: str, session_id: str) -> Session | None:
        key = (asker, session_id)
        session = self._sessions.get(key)
        if session is not None and self._clock() - session.touched > self.idle_expiry_s:
            del self._sessions[key]
            return None
        return session
