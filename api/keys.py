"""API keys and roles: `EXECLAYER_API_KEYS` parsed, and a bearer token matched in constant time.

Entries are comma-separated, `KEY:ROLE` or `NAME=KEY:ROLE`, ROLE one of viewer < operator <
approver < admin (each role may do what the ones before it may). The NAME is who the key is
in the audit trail (`decided_by`); an unnamed key is called `ROLE-<first 8 hex of its
SHA-256>`. Keys themselves are only ever held as SHA-256 digests and are never logged,
echoed or stored: a token is compared against every configured key (no early exit) with
`hmac.compare_digest` over fixed-length digests, so neither timing nor length tells which
key nearly matched.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from enum import StrEnum

NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9._@-]{0,63}$")


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    APPROVER = "approver"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


class ApiKeyError(ValueError):
    """A malformed `EXECLAYER_API_KEYS` (the message names the entry, never the key)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's name and role (never the key)."""

    name: str
    role: Role

    def can(self, needed: Role) -> bool:
        return self.role.allows(needed)


@dataclass(frozen=True, slots=True)
class ApiKey:
    principal: Principal
    digest: bytes = field(repr=False)


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def parse_api_keys(raw: str | None) -> list[ApiKey]:
    """Parse `EXECLAYER_API_KEYS`; a bad entry raises `ApiKeyError` naming its position."""
    keys: list[ApiKey] = []
    names: set[str] = set()
    digests: set[bytes] = set()
    for number, raw_entry in enumerate((raw or "").split(","), start=1):
        entry = raw_entry.strip()
        if not entry:
            continue
        secret, sep, role_text = entry.rpartition(":")
        try:
            role = Role(role_text.strip())
        except ValueError:
            role = None
        if not sep or role is None:
            raise ApiKeyError(
                f"EXECLAYER_API_KEYS entry {number} must be KEY:ROLE or NAME=KEY:ROLE with ROLE "
                f"one of {', '.join(r.value for r in Role)}"
            )
        name, eq, key = secret.partition("=")
        if eq and key and not key.startswith("=") and NAME_PATTERN.match(name):
            secret = key
        else:
            name = ""
        if not secret:
            raise ApiKeyError(f"EXECLAYER_API_KEYS entry {number} has an empty key")
        hashed = digest(secret)
        if not name:
            name = f"{role.value}-{hashed.hex()[:8]}"
        if name in names:
            raise ApiKeyError(f"EXECLAYER_API_KEYS entry {number}: the name {name!r} is taken")
        if hashed in digests:
            raise ApiKeyError(f"EXECLAYER_API_KEYS entry {number} repeats an earlier key")
        names.add(name)
        digests.add(hashed)
        keys.append(ApiKey(Principal(name, role), hashed))
    return keys


class KeyRing:
    """The configured keys; `match(token)` finds the caller in constant time."""

    def __init__(self, keys: list[ApiKey]) -> None:
        self._keys = list(keys)

    @classmethod
    def from_env_value(cls, raw: str | None) -> KeyRing:
        return cls(parse_api_keys(raw))

    def __len__(self) -> int:
        return len(self._keys)

    def match(self, token: str | None) -> Principal | None:
        if not token:
            return None
        candidate = digest(token)
        found: Principal | None = None
        for key in self._keys:  # every key is compared: no early exit
            if hmac.compare_digest(candidate, key.digest):
                found = key.principal
        return found

    def principal(self, name: str) -> Principal | None:
        """The current principal of that name (sessions re-check it on every request)."""
        return next((k.principal for k in self._keys if k.principal.name == name), None)

    def fingerprint(self) -> bytes:
        """A digest of the whole configuration (names, roles, key digests)."""
        h = hashlib.sha256()
        for key in self._keys:
            h.update(key.principal.name.encode() + b"\0" + key.principal.role.value.encode())
            h.update(key.digest)
        return h.digest()
