"""The encoded operating policy: schema, default policy, evaluator. Imports `tools` only.

from guardrails import GuardContext, default_policy, evaluate, explain, strictest

verdicts = evaluate(candidate, GuardContext(view, default_policy()))
strictest(verdicts)            # allow | approve | deny
explain(verdicts, audience="slack")
"""

from guardrails.context import GuardContext
from guardrails.evaluator import (
    RULES,
    denied,
    evaluate,
    evaluate_all,
    is_executable,
    may_execute_autonomously,
    needs_approval,
    strictest,
)
from guardrails.explain import explain, reasons_needing_attention
from guardrails.policy import (
    Autonomy,
    Policy,
    PolicyError,
    default_policy,
    load_policy,
    load_policy_or_default,
    override_policy,
    parse_policy,
    policy_fingerprint,
    policy_from_data,
)

__all__ = [
    "RULES",
    "Autonomy",
    "GuardContext",
    "Policy",
    "PolicyError",
    "default_policy",
    "denied",
    "evaluate",
    "evaluate_all",
    "explain",
    "is_executable",
    "load_policy",
    "load_policy_or_default",
    "may_execute_autonomously",
    "needs_approval",
    "override_policy",
    "parse_policy",
    "policy_fingerprint",
    "policy_from_data",
    "reasons_needing_attention",
    "strictest",
]
