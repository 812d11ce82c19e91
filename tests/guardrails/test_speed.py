"""A printed micro-benchmark of the evaluator (figures only: no timing asserts on a noisy box)."""

from __future__ import annotations

from guardrails.bench import bench_network, bench_plans, benchmark, evaluations_per_second
from guardrails.evaluator import GuardContext, evaluate, strictest
from guardrails.policy import default_policy
from tools.decisions import Outcome
from tools.view import NetworkView


def test_bench_plans_are_realistic_and_allowed() -> None:
    # The benchmark measures plans that pass every rule, so every rule runs to the end.
    ctx = GuardContext(NetworkView.of(bench_network()), default_policy())
    plans = bench_plans()
    assert [strictest(evaluate(p, ctx)) for p in plans] == [Outcome.ALLOW] * len(plans)
    assert max(len(p.actions) for p in plans) == 50


def test_print_evaluator_speed() -> None:
    figures = benchmark(1000)
    print(
        "\nguardrails evaluator: "
        f"{figures['evaluations_per_second']:,.0f} plans/s, "
        f"{figures['us_per_evaluation']:.0f} us per plan, "
        f"{figures['us_per_action']:.1f} us per action, "
        f"{figures['us_per_one_action_plan']:.0f} us per one-action plan, "
        f"{figures['verdicts_per_second']:,.0f} verdicts/s"
    )
    assert figures["evaluations"] == 1000
    assert evaluations_per_second(40) > 0
