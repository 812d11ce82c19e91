"""The LLM advisor: chooses among validated candidates and classifies free-text reports.

The advisor never widens what the resolver may do. `choose` can only return the id of one of
the candidates it was given that carries no deny verdict, or None (= use the deterministic
choice). `classify` can only propose an event whose ids the caller knows and whose details are
known numeric keys within sane bounds, or None (= hand the report to a person). Any failure of
the LLM (timeout, rate limit, refusal, truncated, malformed or invalid answer) is recorded in
the result, never raised.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, create_model

from agents.advisor_prompts import (
    CHOOSE_SYSTEM_PROMPT,
    CLASSIFY_SYSTEM_PROMPT,
    choose_payload,
    classify_payload,
)
from agents.llm_client import ChatMessage, LlmClient
from agents.llm_failures import FailureKind, LlmFailure
from agents.untrusted import instruction_markers, one_line
from tools.decisions import Candidate, LlmUsage, Outcome
from tools.events import EventType, ExceptionEvent
from tools.view import NetworkView

log = logging.getLogger(__name__)

MAX_RATIONALE_CHARS = 1000
MAX_SUMMARY_CHARS = 200
MAX_CANDIDATES = 8
MIN_CLASSIFY_CONFIDENCE = 0.6
# Bounds a detail value must respect to be believed (units, days).
MAX_UNITS = 10_000_000
MAX_DELAY_DAYS = 365.0

Scalar = str | int | float | bool | None


# --------------------------------------------------------------------------------- choose


class AdvisorContext(BaseModel):
    """What the advisor knows beyond the event and the candidates.

    `situation` and `facts` come from our own tools (e.g. `describe_situation`, utilisation);
    `precedents` and `notes` may carry third-party text and are shown to the model as
    untrusted data only.
    """

    model_config = ConfigDict(extra="forbid")

    deterministic_choice: str | None = None
    situation: str = ""
    facts: dict[str, Scalar] = Field(default_factory=dict)
    precedents: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    policy_version: str | None = None


class AdvisorResult(BaseModel):
    """`choice` is one of `offered` or None (fall back to the deterministic choice)."""

    model_config = ConfigDict(extra="forbid")

    choice: str | None = None
    rationale: str = ""
    usage: LlmUsage = Field(default_factory=LlmUsage)
    failure: LlmFailure | None = None
    offered: list[str] = Field(default_factory=list)
    # Instruction-like phrases found in the untrusted text (for the audit trail).
    warnings: list[str] = Field(default_factory=list)


def untrusted_text_warnings(event: ExceptionEvent, notes: Sequence[str] = ()) -> list[str]:
    """One warning per untrusted text that reads like instructions rather than a report."""
    found = []
    markers = instruction_markers(event.text)
    if markers:
        found.append(f"event text contains instruction-like phrases: {', '.join(markers)}")
    for i, note in enumerate(notes):
        markers = instruction_markers(note)
        if markers:
            found.append(f"note {i + 1} contains instruction-like phrases: {', '.join(markers)}")
    return found


def _choice_model(ids: Sequence[str]) -> type[BaseModel]:
    """The answer schema: `candidate_id` is an enum of exactly the offered ids (an `enum` even
    for one id: pydantic would write `const`, which not every structured-output engine takes)."""
    id_type: Any = Annotated[
        Literal[tuple(ids)], WithJsonSchema({"type": "string", "enum": list(ids)})
    ]
    return create_model(
        "CandidateChoice",
        __config__=ConfigDict(extra="forbid"),
        candidate_id=(id_type, ...),
        rationale=(str, ...),
    )


def offerable(candidates: Iterable[Candidate], limit: int = MAX_CANDIDATES) -> list[Candidate]:
    """The candidates the model may see: no deny verdict, first of each id, at most `limit`."""
    seen: set[str] = set()
    out: list[Candidate] = []
    for candidate in candidates:
        if candidate.id in seen or any(v.outcome is Outcome.DENY for v in candidate.verdicts):
            continue
        seen.add(candidate.id)
        out.append(candidate)
        if len(out) >= limit:
            break
    return out


def _failure(kind: FailureKind, message: str, purpose: str, attempts: int = 0) -> LlmFailure:
    return LlmFailure(kind=kind, message=message[:500], purpose=purpose, attempts=attempts)


# ------------------------------------------------------------------------------- classify


class ClassifyContext(BaseModel):
    """The ids a classified event may reference; anything else the model names is dropped."""

    model_config = ConfigDict(extra="forbid")

    orders: frozenset[str] = frozenset()
    nodes: frozenset[str] = frozenset()
    carriers: frozenset[str] = frozenset()
    carrier_services: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    skus: frozenset[str] = frozenset()
    source: str | None = None
    notes: list[str] = Field(default_factory=list)  # untrusted extra text (e.g. order notes)
    min_confidence: Annotated[float, Field(ge=0.0, le=1.0)] = MIN_CLASSIFY_CONFIDENCE

    @classmethod
    def from_view(cls, view: NetworkView, **extra: Any) -> ClassifyContext:
        """Every id of the network: orders, nodes, carriers, services, regions, skus."""
        regions = {n.region for n in view.nodes.values()}
        regions |= {r for c in view.carriers.values() for r in c.regions}
        regions |= {o.ship_to.region for o in view.orders.values()}
        return cls(
            orders=frozenset(view.orders),
            nodes=frozenset(view.nodes),
            carriers=frozenset(view.carriers),
            carrier_services=frozenset(view.services),
            regions=frozenset(regions),
            skus=frozenset(view.skus),
            **extra,
        )


ClassifiedType = Literal[
    "short_pick",
    "stockout",
    "node_overload",
    "node_outage",
    "cutoff_missed",
    "carrier_disruption",
    "sla_risk",
    "partner_rejected",
    "booking_failed",
    "unknown",
]


class ClassifiedDetails(BaseModel):
    """Numbers the report states; null for anything it does not state."""

    model_config = ConfigDict(extra="forbid")

    short_qty: int | None
    backlog_units: int | None
    capacity_units_per_day: int | None
    delay_days: float | None
    restock_at: str | None
    carrier_service: str | None


class Classification(BaseModel):
    """What the report says happened, referencing only known ids."""

    model_config = ConfigDict(extra="forbid")

    event_type: ClassifiedType
    orders: list[str]
    node: str | None
    carrier: str | None
    region: str | None
    sku: str | None
    details: ClassifiedDetails
    confidence: float
    summary: str


class EventProposal(BaseModel):
    """A structured reading of an `unstructured` event, every id checked against the network."""

    model_config = ConfigDict(extra="forbid")

    type: EventType
    orders: list[str] = Field(default_factory=list)
    node: str | None = None
    carrier: str | None = None
    region: str | None = None
    sku: str | None = None
    details: dict[str, int | float | str] = Field(default_factory=dict)
    confidence: Annotated[float, Field(ge=0.0, le=1.0)]
    summary: str

    def to_event(self, original: ExceptionEvent) -> ExceptionEvent:
        """The structured event replacing `original` (same id, time, source and text)."""
        return ExceptionEvent(
            id=original.id,
            type=self.type,
            occurred_at=original.occurred_at,
            source=original.source,
            orders=list(self.orders),
            node=self.node,
            carrier=self.carrier,
            region=self.region,
            sku=self.sku,
            details=dict(self.details),
            text=original.text,
        )


class ClassifyResult(BaseModel):
    """`proposal` is None when the text gave nothing usable: the graph sends it to a person.
    `notes` say what was dropped and why."""

    model_config = ConfigDict(extra="forbid")

    proposal: EventProposal | None = None
    confidence: float | None = None
    summary: str = ""
    notes: list[str] = Field(default_factory=list)
    usage: LlmUsage = Field(default_factory=LlmUsage)
    failure: LlmFailure | None = None


def _checked_id(
    value: str | None, known: frozenset[str], what: str, notes: list[str]
) -> str | None:
    if value is None or not value.strip():
        return None
    if value in known:
        return value
    notes.append(f"dropped unknown {what} {one_line(value, 64)!r}")
    return None


def _checked_details(
    details: ClassifiedDetails, context: ClassifyContext, notes: list[str]
) -> dict[str, int | float | str]:
    out: dict[str, int | float | str] = {}
    for key in ("short_qty", "backlog_units", "capacity_units_per_day"):
        value = getattr(details, key)
        if value is None:
            continue
        low = 1 if key == "short_qty" else 0
        if low <= value <= MAX_UNITS:
            out[key] = value
        else:
            notes.append(f"dropped details.{key}={value}: outside {low}..{MAX_UNITS}")
    if details.delay_days is not None:
        if 0 <= details.delay_days <= MAX_DELAY_DAYS:
            out["delay_days"] = details.delay_days
        else:
            notes.append(f"dropped details.delay_days={details.delay_days}: outside 0..365")
    if details.restock_at is not None:
        try:
            moment = datetime.fromisoformat(details.restock_at.strip().replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            notes.append("dropped details.restock_at: not an ISO-8601 time with a timezone")
        else:
            out["restock_at"] = moment.isoformat().replace("+00:00", "Z")
    service = _checked_id(
        details.carrier_service, context.carrier_services, "carrier service", notes
    )
    if service is not None:
        out["carrier_service"] = service
    return out


def _has_target(proposal_type: EventType, fields: dict[str, Any]) -> str | None:
    """Why the proposal cannot stand as an event, or None when it can."""
    if proposal_type is EventType.CARRIER_DISRUPTION and not fields["carrier"]:
        return "a carrier disruption must name a known carrier"
    if not (
        fields["orders"] or fields["node"] or fields["carrier"] or fields["region"] or fields["sku"]
    ):
        return "the text names no known order, node, carrier, region or sku"
    return None


# -------------------------------------------------------------------------------- advisor


class LlmAdvisor:
    """Choice among validated candidates and classification of free text, through an LLM."""

    def __init__(
        self,
        client: LlmClient,
        *,
        max_candidates: int = MAX_CANDIDATES,
        max_rationale_chars: int = MAX_RATIONALE_CHARS,
    ) -> None:
        self.client = client
        self.max_candidates = max_candidates
        self.max_rationale_chars = max_rationale_chars

    def __repr__(self) -> str:
        return f"LlmAdvisor({self.client!r})"

    def choose(
        self,
        event: ExceptionEvent,
        candidates: Sequence[Candidate],
        context: AdvisorContext | None = None,
    ) -> AdvisorResult:
        """Pick one of `candidates` (already validated and guardrail-passing, best first) by id,
        with a rationale; `choice=None` (with `failure`) means: use the deterministic choice."""
        context = context or AdvisorContext()
        offered = offerable(candidates, self.max_candidates)
        ids = [c.id for c in offered]
        if not offered:
            return AdvisorResult(
                failure=_failure(FailureKind.INVALID, "no candidate to choose from", "choose")
            )
        deterministic = (
            context.deterministic_choice if context.deterministic_choice in ids else None
        )
        warnings = untrusted_text_warnings(event, context.notes)
        messages = [
            ChatMessage(
                role="system",
                content=CHOOSE_SYSTEM_PROMPT.format(max_rationale=self.max_rationale_chars),
            ),
            ChatMessage(
                role="user",
                content=choose_payload(
                    event,
                    offered,
                    deterministic_choice=deterministic,
                    situation=context.situation,
                    facts=context.facts,
                    precedents=context.precedents,
                    notes=context.notes,
                    policy_version=context.policy_version,
                    warnings=warnings,
                ),
            ),
        ]
        result = self.client.structured(messages, _choice_model(ids), purpose="choose")
        if result.value is None:
            return AdvisorResult(
                usage=result.usage, failure=result.failure, offered=ids, warnings=warnings
            )
        answer = result.value.model_dump()
        choice = answer["candidate_id"]
        raw_rationale = str(answer["rationale"]).strip()
        rationale = one_line(self.client.redact(raw_rationale), self.max_rationale_chars + 20)

        def reject(message: str) -> AdvisorResult:
            log.warning("llm choice rejected: %s", message)
            return AdvisorResult(
                usage=result.usage,
                failure=_failure(FailureKind.INVALID, message, "choose", result.attempts),
                offered=ids,
                warnings=warnings,
            )

        if choice not in ids:  # the schema's enum already guarantees this; never trust it alone
            return reject(f"candidate {one_line(str(choice), 64)!r} was not offered")
        if not rationale:
            return reject("the rationale is empty")
        if len(raw_rationale) > self.max_rationale_chars:
            return reject(
                f"the rationale has {len(raw_rationale)} characters "
                f"(at most {self.max_rationale_chars})"
            )
        return AdvisorResult(
            choice=choice, rationale=rationale, usage=result.usage, offered=ids, warnings=warnings
        )

    def classify(self, text: str, context: ClassifyContext) -> ClassifyResult:
        """Read an `unstructured` report as a structured event proposal (or None)."""
        if not text or not text.strip():
            return ClassifyResult(
                notes=["the report is empty"],
                failure=_failure(FailureKind.INVALID, "the report is empty", "classify"),
            )
        markers = instruction_markers(text)
        if markers:
            # A report that gives orders instead of facts is for a person to read, not for a
            # model to interpret.
            return ClassifyResult(
                notes=[
                    "the report contains instruction-like phrases "
                    f"({', '.join(markers)}): a person should read it"
                ]
            )
        known = {
            "orders": context.orders,
            "nodes": context.nodes,
            "carriers": context.carriers,
            "carrier_services": context.carrier_services,
            "regions": context.regions,
            "skus": context.skus,
        }
        messages = [
            ChatMessage(role="system", content=CLASSIFY_SYSTEM_PROMPT),
            ChatMessage(
                role="user",
                content=classify_payload(text, known, source=context.source, notes=context.notes),
            ),
        ]
        result = self.client.structured(messages, Classification, purpose="classify")
        if result.value is None:
            return ClassifyResult(
                usage=result.usage,
                failure=result.failure,
                notes=["the LLM gave no usable answer"],
            )
        answer = result.value
        summary = one_line(self.client.redact(answer.summary), MAX_SUMMARY_CHARS)
        notes: list[str] = []

        def unusable(reason: str, failure: LlmFailure | None = None) -> ClassifyResult:
            return ClassifyResult(
                confidence=answer.confidence if 0 <= answer.confidence <= 1 else None,
                summary=summary,
                notes=[*notes, reason],
                usage=result.usage,
                failure=failure,
            )

        if not 0.0 <= answer.confidence <= 1.0:
            message = f"confidence {answer.confidence} is outside 0..1"
            return unusable(
                message, _failure(FailureKind.INVALID, message, "classify", result.attempts)
            )
        if answer.event_type == "unknown":
            return unusable("the text reports no known exception type")
        orders: list[str] = []
        for order in answer.orders:
            checked = _checked_id(order, context.orders, "order", notes)
            if checked is not None and checked not in orders:
                orders.append(checked)
        fields: dict[str, Any] = {
            "orders": orders,
            "node": _checked_id(answer.node, context.nodes, "node", notes),
            "carrier": _checked_id(answer.carrier, context.carriers, "carrier", notes),
            "region": _checked_id(answer.region, context.regions, "region", notes),
            "sku": _checked_id(answer.sku, context.skus, "sku", notes),
        }
        details = _checked_details(answer.details, context, notes)
        if answer.confidence < context.min_confidence:
            return unusable(
                f"confidence {answer.confidence:.2f} is below {context.min_confidence:.2f}"
            )
        event_type = EventType(answer.event_type)
        problem = _has_target(event_type, fields)
        if problem is not None:
            return unusable(problem)
        proposal = EventProposal(
            type=event_type,
            details=details,
            confidence=answer.confidence,
            summary=summary,
            **fields,
        )
        return ClassifyResult(
            proposal=proposal,
            confidence=answer.confidence,
            summary=summary,
            notes=notes,
            usage=result.usage,
        )
