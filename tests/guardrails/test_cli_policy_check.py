"""`execlayer policy check FILE`: a readable summary, or the located error and exit code 2."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from api.cli import app

runner = CliRunner()


def check(path: Path) -> tuple[int, str, str]:
    result = runner.invoke(app, ["policy", "check", str(path)], env={"COLUMNS": "160"})
    return result.exit_code, result.stdout, result.stderr


def test_the_default_policy_checks_out() -> None:
    shipped = Path(__file__).resolve().parents[2] / "guardrails" / "default_policy.yaml"
    code, out, err = check(shipped)
    assert code == 0, err
    for expected in (
        "default-2026-11",
        "sha256:",
        "auto: executes allowed plans",
        "max_cost_increase_per_order",
        "$25.00",
        "15.0%",
        "cancel_lines",
        "hazmat_by_air",
        "max_node_utilization",
        "100%",
        "lateness_penalty",
        "gold $45",
        "max_autonomous_actions_per_node_per_hour",
        "200",
        "every carrier",
        "policy OK",
    ):
        assert expected in out, expected
    assert err == ""


def test_custom_policy_summary_shows_its_choices(tmp_path: Path) -> None:
    path = tmp_path / "strict.yaml"
    path.write_text(
        "version: strict-1\nautonomy: recommend\n"
        "approval: {max_cost_increase_per_order: 5, tiers: [b2b_contract]}\n"
        "deny: {hazmat_by_air: true, max_split_nodes: 1}\n"
        "rate_limit: {max_autonomous_actions_per_node_per_hour: null}\n"
        "carriers: {allow: {NE: [PARCELCO]}, deny: {'*': [BADCO]}}\n"
    )
    code, out, _ = check(path)
    assert code == 0
    assert "strict-1" in out
    assert "recommend: never executes without a person's approval" in out
    assert "$5.00" in out
    assert "b2b_contract" in out
    assert "no limit" in out
    assert "NE: PARCELCO" in out
    assert "every region: BADCO" in out


def test_a_broken_policy_is_refused_with_its_location(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(
        "version: v\napproval:\n  max_cost_increase_per_ordr: 3\ndeny: {max_split_nodes: -1}\n"
    )
    code, out, err = check(path)
    assert code == 2
    assert out == ""
    assert "policy refused" in err
    assert f"{path}:3:3: approval.max_cost_increase_per_ordr: unknown key" in err
    assert "did you mean 'max_cost_increase_per_order'?" in err
    assert f"{path}:4:25: deny.max_split_nodes: Input should be greater than or equal to 1" in err
    assert "  max_cost_increase_per_ordr: 3" in err  # the offending line is shown


def test_a_yaml_syntax_error_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "syntax.yaml"
    path.write_text("version: v\napproval: [oops\n")
    code, _, err = check(path)
    assert code == 2
    assert "YAML syntax error" in err
    assert str(path) in err


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    code, _, err = check(tmp_path / "absent.yaml")
    assert code == 2
    assert "no such file" in err


def test_markup_in_a_policy_is_printed_literally(tmp_path: Path) -> None:
    path = tmp_path / "markup.yaml"
    path.write_text('version: "[bold red]v1[/]"\n')
    code, out, _ = check(path)
    assert code == 0
    assert "[bold red]v1[/]" in out
