"""`SourcingLimits.carrier_allowed` remembers its answers; the memo never leaks or lies."""

from __future__ import annotations

import dataclasses

import pytest

from tools.sourcing.limits import SourcingLimits


def test_answers_are_the_same_when_asked_again_and_per_regions() -> None:
    limits = SourcingLimits.from_mapping(
        {"carrier_allow": {"EU": ["DHL"]}, "carrier_deny": {"*": ["BAD"], "US": ["DHL"]}}
    )
    for _ in range(2):
        assert limits.carrier_allowed("DHL", "EU") is True
        assert limits.carrier_allowed("UPS", "EU") is False
        assert limits.carrier_allowed("DHL", "EU", "US") is False
        assert limits.carrier_allowed("UPS", "US") is True
        assert limits.carrier_allowed("BAD", "US") is False


def test_a_replaced_copy_does_not_reuse_the_old_answers() -> None:
    limits = SourcingLimits(carrier_deny={"EU": frozenset({"DHL"})})
    assert limits.carrier_allowed("DHL", "EU") is False
    relaxed = dataclasses.replace(limits, carrier_deny={})
    assert relaxed.carrier_allowed("DHL", "EU") is True
    assert limits == SourcingLimits(carrier_deny={"EU": frozenset({"DHL"})})  # memo not compared


def test_the_memo_is_not_a_policy_key() -> None:
    with pytest.raises(ValueError, match="_carrier_answers"):
        SourcingLimits.from_mapping({"_carrier_answers": {}})
