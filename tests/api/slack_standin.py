"""A Slack Web API stand-in on 127.0.0.1 for end-to-end tests.

Records every call (`chat.postMessage`, `chat.update`, `chat.postEphemeral`, ...) and answers
with the realistic responses of `slack-api-specs_chat_postMessage_update_examples.json`
(slackapi/slack-api-specs, MIT), adapted to the request (channel, a fresh `ts`). Set
`fail_status` to make it answer like Slack having an outage.
"""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Call:
    method: str
    body: dict[str, Any]
    authorization: str | None


@dataclass
class SlackStandIn:
    examples: dict[str, Any]
    token: str
    calls: list[Call] = field(default_factory=list)
    fail_status: int | None = None
    _ts: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/api/"

    def named(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def answer(self, method: str, body: dict[str, Any], auth: str | None) -> tuple[int, dict]:
        with self._lock:
            self.calls.append(Call(method, body, auth))
            if self.fail_status is not None:
                return self.fail_status, {"ok": False, "error": "service_unavailable"}
            if auth != f"Bearer {self.token}":
                return 200, {"ok": False, "error": "invalid_auth"}
            if method == "chat.postMessage":
                self._ts += 1
                reply = copy.deepcopy(self.examples["/chat.postMessage"]["200"]["application/json"])
                ts = f"1503435956.{self._ts:06d}"
                reply.update(channel=body["channel"], ts=ts)
                reply["message"].update(ts=ts, text=body.get("text", ""))
                return 200, reply
            if method == "chat.update":
                reply = copy.deepcopy(self.examples["/chat.update"]["200"]["application/json"])
                reply.update(channel=body["channel"], ts=body["ts"], text=body.get("text", ""))
                return 200, reply
            if method == "chat.postEphemeral":
                return 200, {"ok": True, "message_ts": "1503435957.000001"}
            return 200, {"ok": False, "error": "unknown_method"}

    def start(self) -> SlackStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    body = json.loads(raw or "{}")
                else:
                    body = {k: v[0] for k, v in parse_qs(raw).items()}
                method = self.path.rsplit("/", 1)[-1]
                status, reply = standin.answer(method, body, self.headers.get("Authorization"))
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def load_examples(external: Path) -> dict[str, Any]:
    path = external / "slack" / "slack-api-specs_chat_postMessage_update_examples.json"
    return json.loads(path.read_text())
