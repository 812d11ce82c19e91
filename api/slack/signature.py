"""Slack request signatures (v0): HMAC-SHA256 over `v0:{timestamp}:{raw body}`.

Verified with `slack_sdk.signature.SignatureVerifier` (constant-time compare) on a clock we
inject, after our own checks give a precise reason: a missing header, a timestamp that is not
a number, or one more than five minutes away from now (replays are refused).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping

from slack_sdk.signature import Clock, SignatureVerifier

MAX_AGE_S = 300


class SignatureRejected(ValueError):
    pass


class FixedClock(Clock):
    """`slack_sdk`'s clock, reading ours (pinned in tests)."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Slack-Signature` Slack would send for this body at this timestamp."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: Callable[[], float]) -> None:
    """Raise `SignatureRejected` (with the reason) unless Slack signed this request recently."""
    lower = {k.lower(): v for k, v in headers.items()}
    timestamp = lower.get("x-slack-request-timestamp")
    signature = lower.get("x-slack-signature")
    if not timestamp or not signature:
        raise SignatureRejected("missing X-Slack-Request-Timestamp or X-Slack-Signature")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise SignatureRejected("X-Slack-Request-Timestamp is not a number") from None
    if abs(now() - sent_at) > MAX_AGE_S:
        raise SignatureRejected("request timestamp is more than 5 minutes away from now")
    verifier = SignatureVerifier(secret, clock=FixedClock(now))
    try:
        valid = verifier.is_valid(body=body, timestamp=timestamp, signature=signature)
    except UnicodeDecodeError:
        valid = False
    if not valid:
        raise SignatureRejected("signature does not match")
