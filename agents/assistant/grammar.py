"""The deterministic command grammar: what the assistant understands without an LLM.

    status O-1001                          order status and history
    why O-1001 | why EX-P1                 why a decision was made (latest one for an order)
    pending                                approvals waiting for a person
    health                                 node utilisation, overloaded nodes, disrupted lanes
    approve AP-EX-P4 [comment]             approvers: approve (guardrails re-checked first)
    reject AP-EX-P4 [comment]              approvers: reject
    what-if carrier PARCELCO [region SE]   simulate a carrier stopping (nothing changes)
    what-if node STORE-BOS closed          simulate a node closing (nothing changes)
    precedents <what happened>             similar past cases
    submit TYPE [order O-1] [node N] [carrier C] [region R] [sku S]
                                           operators: report an exception to the resolver
    help

Command words are case-insensitive; ids are taken as typed (an id has a digit or a `-`). A
leading `/` and a trailing `?` or `.` are ignored. A command word alone gets its usage; a
command word followed by words that do not fit ("why did O-1001 move to DC-NJ?", "approve the
Boston reroute") is a free-form question, for the LLM.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tools.events import EventType

HELP = """\
Commands:
  status O-1001                          order status and history
  why O-1001                             why a decision was made (or: why EX-P1)
  pending                                approvals waiting for a person
  health                                 node utilisation and disrupted carrier lanes
  approve AP-EX-P4 [comment]             approve (approvers; guardrails are re-checked)
  reject AP-EX-P4 [comment]              reject (approvers)
  what-if carrier PARCELCO region SE     simulate a carrier stopping in a region
  what-if node STORE-BOS closed          simulate a node closing
  precedents <what happened>             similar past cases
  submit TYPE [order O-1] [node N] [carrier C] [region R] [sku S]
                                         report an exception (operators)
  help                                   this list"""

NEEDS_LLM = (
    "I only understand the commands below: free-form questions need an LLM endpoint "
    "(set EXECLAYER_LLM_BASE_URL and EXECLAYER_LLM_MODEL, and EXECLAYER_LLM_API_KEY if the "
    "endpoint needs one)."
)

_ID = r"[A-Za-z0-9._:\-]+"
_SUBMIT_KEYS = {"order": "orders", "orders": "orders", "node": "node", "carrier": "carrier"}
_SUBMIT_KEYS |= {"region": "region", "sku": "sku"}


@dataclass(frozen=True)
class Parsed:
    """`tool` + `arguments` for a command; `help` for help; `problem` for a command used
    wrongly (with its usage); all None for anything the grammar does not know."""

    tool: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    help: bool = False
    problem: str | None = None

    @property
    def understood(self) -> bool:
        return self.tool is not None or self.help or self.problem is not None


def looks_like_id(word: str) -> bool:
    return bool(re.fullmatch(_ID, word)) and any(c.isdigit() or c == "-" for c in word)


def _usage(text: str) -> Parsed:
    return Parsed(problem=f"usage: {text}")


def parse(message: str) -> Parsed:
    text = message.strip().lstrip("/").strip().rstrip("?.!").strip()
    words = text.split()
    if not words:
        return Parsed(help=True)
    verb = words[0].lower()
    rest = words[1:]
    if verb in ("help", "commands", "?") and not rest:
        return Parsed(help=True)
    if verb == "status":
        if not rest:
            return _usage("status ORDER-ID (e.g. status O-1001)")
        if len(rest) == 1 and looks_like_id(rest[0]):
            return Parsed("order_status", {"order_id": rest[0]})
        return Parsed()
    if verb == "why":
        if not rest:
            return _usage("why ORDER-ID or why EXCEPTION-ID (e.g. why O-1001)")
        if len(rest) == 1 and looks_like_id(rest[0]):
            return Parsed("explain_decision", {"ref": rest[0]})
        return Parsed()
    if verb in ("pending", "approvals") and not rest:
        return Parsed("pending_approvals")
    if verb == "health" and not rest:
        return Parsed("network_health")
    if verb in ("approve", "reject"):
        if not rest:
            return _usage(f"{verb} APPROVAL-ID [comment] (e.g. {verb} AP-EX-P4)")
        if not looks_like_id(rest[0]):
            return Parsed()
        return Parsed(
            "decide_approval",
            {"approval_id": rest[0], "decision": verb, "comment": " ".join(rest[1:])},
        )
    if verb in ("what-if", "whatif", "what_if"):
        return _what_if(rest)
    if verb == "precedents":
        if not rest:
            return _usage("precedents <what happened>")
        return Parsed("search_precedents", {"query": " ".join(rest)})
    if verb == "submit":
        return _submit(rest)
    return Parsed()


def _what_if(rest: list[str]) -> Parsed:
    usage = _usage("what-if carrier CARRIER [region REGION] | what-if node NODE closed")
    if not rest:
        return usage
    kind = rest[0].lower()
    if kind not in ("carrier", "node"):
        return Parsed()
    if kind == "carrier" and len(rest) in (2, 4):
        args: dict[str, Any] = {"kind": "carrier", "carrier": rest[1]}
        if len(rest) == 4:
            if rest[2].lower() != "region":
                return usage
            args["region"] = rest[3]
        return Parsed("what_if", args)
    if kind == "node" and len(rest) in (2, 3):
        if len(rest) == 3 and rest[2].lower() not in ("closed", "closes", "down"):
            return usage
        return Parsed("what_if", {"kind": "node", "node": rest[1]})
    return usage


def _submit(rest: list[str]) -> Parsed:
    types = ", ".join(t.value for t in EventType)
    usage = _usage(
        f"submit TYPE [order O-1] [node N] [carrier C] [region R] [sku S]; TYPE: {types}"
    )
    if not rest:
        return usage
    if not re.fullmatch(r"[a-z_]+", rest[0].lower()) or (
        len(rest) > 1 and rest[1].lower() not in _SUBMIT_KEYS
    ):
        return Parsed()
    args: dict[str, Any] = {"type": rest[0].lower(), "orders": []}
    pairs = rest[1:]
    if len(pairs) % 2:
        return usage
    for key, value in zip(pairs[::2], pairs[1::2], strict=True):
        name = _SUBMIT_KEYS.get(key.lower())
        if name is None:
            return usage
        if name == "orders":
            args["orders"] += [v for v in value.split(",") if v]
        else:
            args[name] = value
    return Parsed("submit_exception", args)
