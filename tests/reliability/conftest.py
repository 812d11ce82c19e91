"""Fixtures of the reliability and security suites (helpers live in `harness`)."""

from tests.reliability.harness import stop_streams, surge

__all__ = ["stop_streams", "surge"]
