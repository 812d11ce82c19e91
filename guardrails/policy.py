"""Loading the operating policy (contract section 4) with errors that point into the file.

`parse_policy(text, source)` and `load_policy(path)` return a validated `Policy` or raise
`PolicyError`, whose problems each carry the file, line and column of the offending key or
value, the field path and what is wrong:

    policy.yaml:4:3: approval.max_cost_increase_per_ordr: unknown key (did you mean
    'max_cost_increase_per_order'?)

`default_policy()` is the documented policy shipped in the package (`default_policy.yaml`).
`policy_fingerprint(policy)` is a short stable hash of the canonical policy, so an audit can
prove which exact policy decided (the version alone is a name a person chose).
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode

from guardrails.policy_schema import (
    ANY_REGION,
    ApprovalRules,
    Autonomy,
    CarrierLists,
    DenyRules,
    Policy,
    RateLimit,
)
from guardrails.yaml_locations import Place, compose, construct, duplicate_keys, locate, place_of
from tools.inputs import InputError, field_path

__all__ = [
    "ANY_REGION",
    "DEFAULT_POLICY_FILE",
    "ApprovalRules",
    "Autonomy",
    "CarrierLists",
    "DenyRules",
    "Policy",
    "PolicyError",
    "PolicyProblem",
    "RateLimit",
    "default_policy",
    "default_policy_text",
    "load_policy",
    "load_policy_or_default",
    "override_policy",
    "parse_policy",
    "policy_fingerprint",
    "policy_from_data",
]

DEFAULT_POLICY_FILE = "default_policy.yaml"


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    """One thing wrong with a policy document, and where."""

    source: str
    path: str  # field path, e.g. `approval.max_cost_increase_per_order`
    message: str
    line: int | None = None  # 1-based; None when the policy did not come from text
    column: int | None = None
    snippet: str | None = None  # the offending line of the file

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}"

    def render(self) -> str:
        """The problem, then the offending line with a caret under the column."""
        if self.snippet is None or self.column is None:
            return str(self)
        caret = " " * (self.column - 1) + "^"
        return f"{self}\n    {self.snippet}\n    {caret}"


class PolicyError(InputError):
    """A policy that does not validate. `located` holds the problems with their places."""

    def __init__(self, located: list[PolicyProblem]) -> None:
        self.located = located
        super().__init__("policy", [str(p) for p in located])

    def render(self) -> str:
        return "\n".join(p.render() for p in self.located)


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The policy section model that a location's parent refers to (for key suggestions)."""
    model: type[BaseModel] = Policy
    for part in loc:
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        candidates = [field.annotation, *get_args(field.annotation)]
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nested:
            return None
        model = nested[0]
    return model


def _message(err: Mapping[str, Any], loc: tuple[int | str, ...], raw: str | None) -> str:
    """What is wrong, in words; `raw` is the value as written in the file, when known."""
    kind = err["type"]
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        known = list(model.model_fields) if model else []
        close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        allowed = f"; known keys: {', '.join(known)}" if known else ""
        return f"unknown key{hint}{allowed}"
    if kind == "missing":
        return "required key is missing"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if raw is not None:
        return f"{msg} (got {raw})"
    value = err.get("input")
    if isinstance(value, (str, int, float, bool)) or value is None:
        return f"{msg} (got {value!r})"
    return msg


def _snippet(lines: list[str], place: Place | None) -> str | None:
    if place is None or not 0 < place.line <= len(lines):
        return None
    return lines[place.line - 1]


def _problems(
    exc: ValidationError, source: str, root: Node | None, text: str
) -> list[PolicyProblem]:
    lines = text.splitlines()
    found: list[PolicyProblem] = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        node = locate(root, loc, at_key=err["type"] == "extra_forbidden") if root else None
        path_loc = tuple(p for p in loc if p != "[key]")
        place = place_of(node) if node is not None else None
        found.append(
            PolicyProblem(
                source=source,
                path=field_path(path_loc),
                message=_message(err, loc, node.value if isinstance(node, ScalarNode) else None),
                line=place.line if place else None,
                column=place.column if place else None,
                snippet=_snippet(lines, place),
            )
        )
    found.sort(key=lambda p: (p.line is None, p.line or 0, p.column or 0))
    return found


def parse_policy(text: str, source: str = "<string>") -> Policy:
    """Validate a policy document (YAML, or JSON, which is YAML). Raises `PolicyError`."""
    lines = text.splitlines()
    try:
        root = compose(text)
        data = construct(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        place = Place(mark.line + 1, mark.column + 1) if mark else None
        what = ": ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        started = exc.context_mark
        if started is not None and started is not mark:
            what += (
                f" (the construct started at line {started.line + 1}, column {started.column + 1})"
            )
        raise PolicyError(
            [
                PolicyProblem(
                    source,
                    "(document)",
                    f"YAML syntax error: {what}",
                    place.line if place else None,
                    place.column if place else None,
                    _snippet(lines, place),
                )
            ]
        ) from None
    except yaml.YAMLError as exc:
        raise PolicyError([PolicyProblem(source, "(document)", f"YAML error: {exc}")]) from None
    if root is None:
        raise PolicyError(
            [PolicyProblem(source, "(document)", "empty policy: version is required", 1, 1)]
        )
    if not isinstance(root, MappingNode):
        place = place_of(root)
        raise PolicyError(
            [
                PolicyProblem(
                    source,
                    "(document)",
                    "a policy is a mapping of keys (version, autonomy, approval, deny ...)",
                    place.line,
                    place.column,
                    _snippet(lines, place),
                )
            ]
        )
    duplicates = duplicate_keys(root)
    if duplicates:
        raise PolicyError(
            [
                PolicyProblem(
                    source,
                    path,
                    f"key written twice (first at line {first.line}, column {first.column})",
                    again.line,
                    again.column,
                    _snippet(lines, again),
                )
                for path, first, again in duplicates
            ]
        )
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(_problems(exc, source, root, text)) from None


def load_policy(path: Path | str) -> Policy:
    """Read and validate a policy file. Raises `PolicyError` (also for an unreadable file)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError([PolicyProblem(str(path), "(file)", "no such file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError([PolicyProblem(str(path), "(file)", f"cannot read: {exc}")]) from None
    return parse_policy(text, source=str(path))


def load_policy_or_default(path: Path | str | None) -> Policy:
    """The policy at `path` (`--policy FILE`, `EXECLAYER_POLICY`), or the default when None."""
    return default_policy() if path is None else load_policy(path)


def policy_from_data(data: object, source: str = "<data>") -> Policy:
    """Validate a policy given as data (e.g. a replay case's JSON `policy`).

    Raises `PolicyError` (with field paths; there is no text to point into)."""
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(_problems(exc, source, None, "")) from None


def _deep_merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def override_policy(
    base: Policy, overrides: Mapping[str, Any], source: str = "<override>"
) -> Policy:
    """`base` with some keys replaced (nested sections merged key by key). Raises `PolicyError`.

    Without a `version` in `overrides` the result keeps the base's version; its fingerprint
    still tells the two apart.
    """
    return policy_from_data(_deep_merge(base.model_dump(mode="json"), overrides), source)


@lru_cache(maxsize=1)
def _default_policy_text() -> str:
    return resources.files("guardrails").joinpath(DEFAULT_POLICY_FILE).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _default_policy() -> Policy:
    return parse_policy(_default_policy_text(), source=f"guardrails/{DEFAULT_POLICY_FILE}")


def default_policy() -> Policy:
    """The documented default policy shipped in the package (a fresh copy each call)."""
    return _default_policy().model_copy(deep=True)


def default_policy_text() -> str:
    """The shipped default policy file, comments included (a starting point for operators)."""
    return _default_policy_text()


def canonical_json(policy: Policy) -> str:
    """The policy with every default filled in, as compact JSON with sorted keys."""
    return json.dumps(policy.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def policy_fingerprint(policy: Policy) -> str:
    """A short stable hash of the canonical policy: `sha256:` + 16 hex digits.

    Comments, key order, list order and defaults written out or left implicit do not change
    it; any change of meaning (a threshold, a weight, the version) does.
    """
    digest = hashlib.sha256(canonical_json(policy).encode("utf-8")).hexdigest()
    return f"sha256:{digest[:16]}"
