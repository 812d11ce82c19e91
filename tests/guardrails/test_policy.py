"""The policy schema: default policy, contract example, versioning, fingerprint, extras."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from guardrails.policy import (
    CarrierLists,
    Policy,
    PolicyError,
    default_policy,
    default_policy_text,
    load_policy,
    override_policy,
    parse_policy,
    policy_fingerprint,
    policy_from_data,
)
from guardrails.policy_schema import Autonomy
from tests.conftest import SHARED
from tools.decisions import ActionType, Decision, DecisionStatus
from tools.network import Channel, CustomerTier
from tools.priorities import BusinessPriorities

CONTRACT_README = SHARED / "contracts" / "README.md"


def contract_policy_yaml() -> str:
    """The YAML block of contract section 4, exactly as written there."""
    text = CONTRACT_README.read_text(encoding="utf-8")
    section = text.split("## 4. Operating policy", 1)[1]
    match = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert match, "contract section 4 has no yaml block"
    return match.group(1)


def test_contract_example_parses_unchanged_with_its_meanings() -> None:
    policy = parse_policy(contract_policy_yaml(), "contract section 4")
    assert policy.version == "default-2026-11"
    assert policy.autonomy is Autonomy.AUTO
    a, d = policy.approval, policy.deny
    assert a.max_cost_increase_per_order == 25.0
    assert a.max_cost_increase_pct_of_order == 0.15
    assert a.max_repromise_days == 2
    assert a.max_orders_per_decision == 50
    assert a.always == (ActionType.CANCEL_LINES,)
    assert d.hazmat_by_air is True
    assert d.b2b_to_marketplace_seller is True
    assert d.max_node_utilization == 1.0
    assert d.respect_safety_stock is True
    assert d.max_split_nodes == 2


def test_default_policy_is_the_documented_one() -> None:
    policy = default_policy()
    assert policy.version == "default-2026-11"
    # Every value written in the shipped file equals the schema's default: the comments
    # in the file document the real defaults.
    assert policy == Policy(version="default-2026-11", description=policy.description)
    assert policy.priorities == BusinessPriorities()
    # The contract example, whose keys are a subset, means the same policy.
    contract = parse_policy(contract_policy_yaml())
    assert contract.model_dump(exclude={"description"}) == policy.model_dump(
        exclude={"description"}
    )
    text = default_policy_text()
    assert text.count("#") > 40, "the default policy must stay heavily commented"


def test_default_policy_is_a_fresh_copy() -> None:
    one = default_policy()
    one.priorities.cost_weight = 7.0
    assert default_policy().priorities.cost_weight == 1.0


def test_load_policy_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(contract_policy_yaml())
    assert load_policy(path).version == "default-2026-11"
    assert load_policy(str(path)).version == "default-2026-11"


@pytest.mark.parametrize("value", ["off", "recommend", "auto", '"off"'])
def test_autonomy_off_is_not_a_yaml_boolean(value: str) -> None:
    policy = parse_policy(f"version: v1\nautonomy: {value}\n")
    assert policy.autonomy.value == value.strip('"')


def test_yes_no_still_read_as_booleans_for_boolean_fields() -> None:
    policy = parse_policy("version: v1\ndeny:\n  hazmat_by_air: no\n  closed_nodes: yes\n")
    assert policy.deny.hazmat_by_air is False
    assert policy.deny.closed_nodes is True


def test_version_is_required_text_and_not_blank() -> None:
    with pytest.raises(PolicyError, match="version: required key is missing"):
        parse_policy("autonomy: auto\n")
    with pytest.raises(PolicyError, match="must not be blank"):
        parse_policy('version: "   "\n')
    with pytest.raises(PolicyError, match=r"must be text: put it in quotes.*\(got 2026\.10\)"):
        parse_policy("version: 2026.10\n")
    assert parse_policy("version: ' v7 '\n").version == "v7"


def test_version_is_recorded_on_a_decision() -> None:
    policy = default_policy()
    decision = Decision(
        exception_id="EX-1",
        status=DecisionStatus.ESCALATED,
        policy_version=policy.version,
        policy_fingerprint=policy_fingerprint(policy),
    )
    data = json.loads(decision.model_dump_json())
    assert data["policy_version"] == "default-2026-11"
    assert data["policy_fingerprint"] == policy_fingerprint(policy)


def test_fingerprint_is_stable_and_tracks_meaning() -> None:
    base = default_policy()
    fp = policy_fingerprint(base)
    assert re.fullmatch(r"sha256:[0-9a-f]{16}", fp)
    # Comments, key order, list order and explicit defaults do not change it.
    reordered = parse_policy(
        "# a comment\n"
        "description: >-\n"
        + "".join(f"  {line}\n" for line in base.description.split("\n"))
        + "approval:\n  always: [cancel_lines]\n  max_orders_per_decision: 50\n"
        "version: default-2026-11\n"
    )
    assert policy_fingerprint(reordered) == fp
    two = parse_policy("version: v\napproval: {always: [hold, cancel_lines]}\n")
    three = parse_policy("version: v\napproval: {always: [cancel_lines, hold, hold]}\n")
    assert policy_fingerprint(two) == policy_fingerprint(three)
    # Any change of meaning does.
    assert policy_fingerprint(override_policy(base, {"deny": {"max_split_nodes": 3}})) != fp
    assert policy_fingerprint(override_policy(base, {"version": "other"})) != fp
    assert policy_fingerprint(override_policy(base, {"priorities": {"split_penalty": 6.5}})) != fp


def test_partial_priority_maps_are_completed_from_the_defaults() -> None:
    policy = parse_policy("version: v\npriorities:\n  lateness_penalty: {gold: 60}\n")
    penalty = policy.priorities.lateness_penalty
    assert penalty[CustomerTier.GOLD] == 60.0
    assert penalty[CustomerTier.STANDARD] == 20.0  # not silently 0
    assert penalty[CustomerTier.B2B_CONTRACT] == 90.0
    assert policy.priorities.channel_lateness_multiplier[Channel.B2B] == 1.2


def test_sourcing_limits_carry_the_policy() -> None:
    policy = parse_policy(
        "version: v\napproval: {max_repromise_days: 3.5}\n"
        "deny: {max_split_nodes: 3, max_node_utilization: 0.9, respect_safety_stock: false,"
        " hazmat_by_air: false, b2b_to_marketplace_seller: false}\n"
        "carriers: {allow: {NE: [SWIFT, PARCELCO]}, deny: {'*': [BADCO]}}\n"
    )
    assert policy.sourcing_limits_mapping() == {
        "max_split_nodes": 3,
        "max_node_utilization": 0.9,
        "respect_safety_stock": False,
        "forbid_hazmat_by_air": False,
        "forbid_b2b_to_marketplace": False,
        "carrier_allow": {"NE": frozenset({"SWIFT", "PARCELCO"})},
        "carrier_deny": {"*": frozenset({"BADCO"})},
        "max_repromise_days": 3.5,
    }
    limits = policy.sourcing_limits()
    assert (limits.max_split_nodes, limits.max_node_utilization) == (3, 0.9)
    assert not limits.carrier_allowed("BADCO", "NE")
    assert limits.carrier_allowed("SWIFT", "NE")
    assert default_policy().sourcing_limits().carrier_allow is None


def test_carrier_lists_semantics() -> None:
    lists = CarrierLists(allow={"NE": ("PARCELCO",), "*": ("SWIFT",)}, deny={"SE": ("SWIFT",)})
    assert lists.allowed("PARCELCO", "NE")
    assert lists.allowed("SWIFT", "NE")  # allowed everywhere by "*"
    assert not lists.allowed("METRO", "NE")
    assert lists.allowed("SWIFT", "MW")
    assert not lists.allowed("PARCELCO", "MW")  # "*" allow-list applies to MW too
    assert not lists.allowed("SWIFT", "SE")  # deny wins over the "*" allow
    assert "deny list for region SE" in (lists.why_not("SWIFT", "SE") or "")
    assert "not on the allow list for region MW" in (lists.why_not("PARCELCO", "MW") or "")
    open_lists = CarrierLists(deny={"*": ("BAD",)})
    assert open_lists.allowed("ANY", "XX")
    assert not open_lists.allowed("BAD", "XX")
    assert "every region" in (open_lists.why_not("BAD", "XX") or "")
    empty = CarrierLists(allow={"NE": ()})
    assert not empty.allowed("PARCELCO", "NE")


def test_carrier_both_allowed_and_denied_in_a_region_is_an_error() -> None:
    with pytest.raises(PolicyError, match="both allowed and denied for region NE"):
        parse_policy("version: v\ncarriers: {allow: {NE: [A]}, deny: {NE: [A]}}\n")


def test_policy_from_data_and_override() -> None:
    policy = policy_from_data({"version": "case-7", "autonomy": "recommend"}, "case-7")
    assert policy.autonomy is Autonomy.RECOMMEND
    with pytest.raises(PolicyError) as info:
        policy_from_data({"version": "x", "deny": {"max_split_nodes": 0}}, "case-7")
    assert str(info.value) == (
        "invalid policy: case-7: deny.max_split_nodes: Input should be greater than or equal "
        "to 1 (got 0)"
    )
    over = override_policy(default_policy(), {"approval": {"max_cost_increase_per_order": 40}})
    assert over.approval.max_cost_increase_per_order == 40
    assert over.approval.max_cost_increase_pct_of_order == 0.15  # merged, not replaced
    assert over.version == "default-2026-11"


def test_policy_is_immutable() -> None:
    policy = default_policy()
    with pytest.raises(ValueError, match="frozen"):
        policy.autonomy = Autonomy.OFF  # type: ignore[misc]


def test_rate_limit_may_be_zero_or_off() -> None:
    assert parse_policy("version: v\nrate_limit: {max_autonomous_actions_per_node_per_hour: 0}\n")
    off = parse_policy("version: v\nrate_limit: {max_autonomous_actions_per_node_per_hour: null}\n")
    assert off.rate_limit.max_autonomous_actions_per_node_per_hour is None


def test_json_policy_text_is_accepted() -> None:
    text = json.dumps({"version": "j1", "deny": {"max_split_nodes": 1}})
    assert parse_policy(text).deny.max_split_nodes == 1


def test_load_policy_or_default(tmp_path: Path) -> None:
    from guardrails import load_policy_or_default

    assert load_policy_or_default(None) == default_policy()
    path = tmp_path / "p.yaml"
    path.write_text("version: mine\n")
    assert load_policy_or_default(path).version == "mine"
