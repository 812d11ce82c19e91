"""A broken policy is refused with the exact place of the mistake: file, line, column, field."""

from __future__ import annotations

from pathlib import Path

import pytest

from guardrails.policy import PolicyError, PolicyProblem, load_policy, parse_policy
from tools.inputs import InputError

GOOD = """\
version: v1
autonomy: auto
approval:
  max_cost_increase_per_order: 25.0
  max_repromise_days: 2
  always: [cancel_lines]
deny:
  max_split_nodes: 2
"""


def problems(text: str) -> list[PolicyProblem]:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "policy.yaml")
    return info.value.located


def only(text: str) -> PolicyProblem:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


def test_good_policy_parses() -> None:
    assert parse_policy(GOOD).version == "v1"


def test_misspelt_key_points_at_the_key() -> None:
    p = only(GOOD.replace("max_cost_increase_per_order", "max_cost_increase_per_ordr"))
    assert (p.line, p.column) == (4, 3)
    assert p.path == "approval.max_cost_increase_per_ordr"
    assert "unknown key (did you mean 'max_cost_increase_per_order'?)" in p.message
    assert str(p).startswith("policy.yaml:4:3: approval.max_cost_increase_per_ordr: unknown key")
    assert p.snippet == "  max_cost_increase_per_ordr: 25.0"


def test_misspelt_top_level_section() -> None:
    p = only(GOOD.replace("deny:", "denny:"))
    assert (p.line, p.column, p.path) == (7, 1, "denny")
    assert "did you mean 'deny'?" in p.message


def test_wrong_type_points_at_the_value() -> None:
    p = only(GOOD.replace("max_split_nodes: 2", "max_split_nodes: two"))
    assert (p.line, p.column) == (8, 20)
    assert p.path == "deny.max_split_nodes"
    assert "valid integer" in p.message
    assert p.message.endswith("(got two)")


def test_negative_threshold_points_at_the_value() -> None:
    p = only(GOOD.replace("max_cost_increase_per_order: 25.0", "max_cost_increase_per_order: -5"))
    assert (p.line, p.column) == (4, 32)
    assert p.path == "approval.max_cost_increase_per_order"
    assert p.message == "Input should be greater than or equal to 0 (got -5)"
    assert p.render().splitlines()[1:] == [
        "      max_cost_increase_per_order: -5",
        "                                   ^",
    ]


def test_bad_list_item_points_at_the_item() -> None:
    p = only(GOOD.replace("always: [cancel_lines]", "always: [cancel_lines, explode]"))
    assert (p.line, p.column, p.path) == (6, 26, "approval.always[1]")
    assert "'cancel_lines'" in p.message


def test_bad_enum_value() -> None:
    p = only(GOOD.replace("autonomy: auto", "autonomy: sometimes"))
    assert (p.line, p.column, p.path) == (2, 11, "autonomy")


def test_bad_dict_key_points_at_the_key() -> None:
    p = only("version: v\npriorities:\n  lateness_penalty:\n    platinum: 99\n")
    assert (p.line, p.column, p.path) == (4, 5, "priorities.lateness_penalty.platinum")


def test_yaml_syntax_error_has_a_place() -> None:
    p = only(GOOD.replace("always: [cancel_lines]", "always: [cancel_lines\n  oops: 1"))
    assert p.path == "(document)"
    assert p.message.startswith("YAML syntax error")
    assert p.line == 7
    assert "started at line 6, column 11" in p.message


def test_bad_indentation_is_a_syntax_error() -> None:
    p = only("version: v1\n  autonomy: auto\n")
    assert (p.line, p.column) == (2, 11)
    assert "mapping values are not allowed here" in p.message


def test_tab_indentation_is_a_syntax_error() -> None:
    p = only("version: v1\napproval:\n\tmax_repromise_days: 2\n")
    assert p.line == 3
    assert "cannot start any token" in p.message


def test_duplicate_key_is_refused() -> None:
    p = only(GOOD + "autonomy: off\n")
    assert (p.line, p.column, p.path) == (9, 1, "autonomy")
    assert p.message == "key written twice (first at line 2, column 1)"
    nested = only(
        GOOD.replace(
            "  max_repromise_days: 2\n", "  max_repromise_days: 2\n  max_repromise_days: 9\n"
        )
    )
    assert nested.path == "approval.max_repromise_days"


def test_several_problems_are_all_reported_in_file_order() -> None:
    text = GOOD.replace("max_split_nodes: 2", "max_split_nodes: 0").replace(
        "max_repromise_days: 2", "max_repromise_dayz: 2"
    )
    found = problems(text)
    assert [(p.line, p.path) for p in found] == [
        (5, "approval.max_repromise_dayz"),
        (8, "deny.max_split_nodes"),
    ]


def test_missing_version_points_at_the_document() -> None:
    p = only("autonomy: auto\n")
    assert (p.line, p.column, p.path) == (1, 1, "version")


@pytest.mark.parametrize("text", ["", "# only a comment\n"])
def test_empty_policy(text: str) -> None:
    assert "empty policy" in only(text).message


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text\n", "42\n"])
def test_policy_must_be_a_mapping(text: str) -> None:
    p = only(text)
    assert "a policy is a mapping" in p.message
    assert p.line == 1


def test_section_of_the_wrong_shape() -> None:
    p = only("version: v\napproval: [1, 2]\n")
    assert (p.line, p.column, p.path) == (2, 11, "approval")


def test_error_is_an_input_error_with_a_readable_message() -> None:
    with pytest.raises(InputError) as info:
        parse_policy("version: v\ndeny: {max_split_nodes: -1}\n", "p.yaml")
    assert str(info.value) == (
        "invalid policy: p.yaml:2:25: deny.max_split_nodes: Input should be greater than or "
        "equal to 1 (got -1)"
    )


def test_load_policy_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("version: v\ndeny:\n  max_split_nodez: 2\n")
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert str(info.value.located[0]).startswith(f"{path}:3:3: deny.max_split_nodez")


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="no such file"):
        load_policy(tmp_path / "nope.yaml")
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(binary)


def test_aliases_are_followed() -> None:
    text = "version: v\nshared: &lim {max_split_nodes: 3}\n"
    p = only(text)  # `shared` is not a policy key
    assert p.path == "shared"
    ok = parse_policy("version: v\ndeny: &d {max_split_nodes: 3}\n")
    assert ok.deny.max_split_nodes == 3
