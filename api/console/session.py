"""Console sessions and CSRF tokens.

A person signs in with their API key once; the console then keeps an HttpOnly, SameSite=Strict
cookie holding a signed token `base64(json{name, role, exp}).HMAC` (never the key). Each
request re-checks that the name still exists with that role, so removing a key ends its
sessions. Every console POST carries a CSRF token derived from the session (HMAC of the
cookie value), compared in constant time; the sign-in form uses a double-submit nonce cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from api.keys import KeyRing, Principal, Role

COOKIE = "execlayer_session"
LOGIN_COOKIE = "execlayer_login"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class SessionSigner:
    secret: bytes
    ttl_s: float
    now: Callable[[], float]

    @classmethod
    def for_keys(
        cls, keys: KeyRing, secret: str | None, ttl_s: float, now: Callable[[], float]
    ) -> SessionSigner:
        if secret:
            key = hashlib.sha256(b"execlayer-console:" + secret.encode()).digest()
        else:
            key = hashlib.sha256(b"execlayer-console-derived:" + keys.fingerprint()).digest()
        return cls(key, ttl_s, now)

    def _mac(self, purpose: str, value: str) -> str:
        return _b64(hmac.new(self.secret, f"{purpose}|{value}".encode(), hashlib.sha256).digest())

    def issue(self, principal: Principal) -> str:
        body = _b64(
            json.dumps(
                {
                    "n": principal.name,
                    "r": principal.role.value,
                    "exp": int(self.now() + self.ttl_s),
                    "j": secrets.token_hex(8),
                },
                separators=(",", ":"),
            ).encode()
        )
        return f"{body}.{self._mac('session', body)}"

    def read(self, token: str | None, keys: KeyRing) -> Principal | None:
        """The principal of a valid, unexpired session whose key still exists, else None."""
        if not token or token.count(".") != 1:
            return None
        body, mac = token.split(".")
        if not hmac.compare_digest(mac.encode(), self._mac("session", body).encode()):
            return None
        try:
            data = json.loads(_unb64(body))
            name, role, expires = str(data["n"]), Role(data["r"]), float(data["exp"])
        except (ValueError, KeyError, TypeError):
            return None
        if expires < self.now():
            return None
        current = keys.principal(name)
        if current is None or current.role is not role:
            return None
        return current

    def csrf(self, session_token: str) -> str:
        return self._mac("csrf", session_token)[:32]

    def check_csrf(self, session_token: str | None, given: str | None) -> bool:
        if not session_token or not given:
            return False
        return hmac.compare_digest(self.csrf(session_token).encode(), given.encode())

    def login_nonce(self) -> str:
        return secrets.token_urlsafe(16)

    def login_csrf(self, nonce: str) -> str:
        return self._mac("login", nonce)[:32]

    def check_login(self, nonce: str | None, given: str | None) -> bool:
        if not nonce or not given:
            return False
        return hmac.compare_digest(self.login_csrf(nonce).encode(), given.encode())
