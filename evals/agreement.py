"""Agreement with past decisions: would the agent have done what your people did?

For every imported case with a `history` (what people did, how it ended), the agent resolves
the event on a fresh store (the case's network, its policy override if any; deterministic
unless an LLM is configured) and its decision is compared with the people's:

- same action type: the people's type is among the agent's action types (`notify_customer`
  aside; an escalation counts as `escalate`; a plan waiting for approval counts as what it
  proposes);
- same node: the people's node is one the agent's plan ships from / sends work to;
- same carrier service: the people's service is one of the plan's services.

A comparison is made only where the history names that field. Where the agent disagrees, the
report says how often the people's choice ended badly (late or cancelled), next to the same
rate where it agrees: the number to look at before trusting the agent with your orders.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from agents.resolver import ResolutionError, Resolver
from evals.cases import ReplayCase, read_cases
from evals.export_format import BAD_OUTCOMES
from guardrails.policy import Policy
from tools.decisions import ActionType, Decision, DecisionStatus
from tools.inputs import InputError, describe
from tools.settings import Settings
from tools.store import Store

ESCALATE = "escalate"


class CaseAgreement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: str
    family: str
    status: str  # the agent's decision status ("error" when it could not decide)
    agent_action_types: list[str]
    agent_nodes: list[str]
    agent_services: list[str]
    people_action_type: str | None
    people_node: str | None
    people_service: str | None
    outcome: str | None
    same_type: bool | None
    same_node: bool | None
    same_service: bool | None
    agrees: bool | None  # every compared field agrees
    people_ended_badly: bool | None
    error: str | None = None

    def people_summary(self) -> str:
        parts = (self.people_action_type, self.people_node, self.people_service)
        return " ".join(x for x in parts if x)

    def agent_summary(self) -> str:
        if self.error is not None:
            return f"error: {self.error}"
        parts = (self.agent_action_types, self.agent_nodes, self.agent_services)
        return " ".join(",".join(p) for p in parts if p)


class FamilyAgreement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cases: int
    same_type_rate: float | None
    agreement_rate: float | None


class AgreementReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: str
    cases: int
    compared: int  # cases whose history names what people did
    same_type_rate: float | None
    same_node_rate: float | None
    same_service_rate: float | None
    agreement_rate: float | None
    agreements: int
    disagreements: int
    people_bad_when_agent_agrees: float | None
    people_bad_when_agent_disagrees: float | None
    disagreements_people_ended_badly: int
    agent_statuses: dict[str, int]
    by_family: dict[str, FamilyAgreement]
    items: list[CaseAgreement]
    seconds: float


def _rate(flags: list[bool | None]) -> float | None:
    known = [f for f in flags if f is not None]
    return round(sum(known) / len(known), 4) if known else None


def agent_view(decision: Decision) -> tuple[list[str], list[str], list[str]]:
    """(action types, nodes, carrier services) of the agent's plan, as compared."""
    if decision.status is DecisionStatus.ESCALATED or not decision.actions:
        return [ESCALATE], [], []
    types: list[str] = []
    nodes: list[str] = []
    services: list[str] = []
    for action in decision.actions:
        if action.type is ActionType.NOTIFY_CUSTOMER:
            continue
        if action.type.value not in types:
            types.append(action.type.value)
        nodes += [n for n in action.nodes() if n not in nodes]
        services += [s for s in action.carrier_services() if s not in services]
    return types, nodes, services


def compare(case: ReplayCase, decision: Decision | None, error: str | None) -> CaseAgreement:
    history = case.history
    types, nodes, services = agent_view(decision) if decision is not None else ([], [], [])
    people_type = history.action_type if history else None
    people_node = history.node if history else None
    people_service = history.carrier_service if history else None
    outcome = history.outcome if history else None
    ok = decision is not None
    same_type = (people_type in types) if ok and people_type else None
    same_node = (people_node in nodes) if ok and people_node else None
    same_service = (people_service in services) if ok and people_service else None
    compared = [f for f in (same_type, same_node, same_service) if f is not None]
    return CaseAgreement(
        case_id=case.id,
        family=case.family,
        status=decision.status.value if decision is not None else "error",
        agent_action_types=types,
        agent_nodes=nodes,
        agent_services=services,
        people_action_type=people_type,
        people_node=people_node,
        people_service=people_service,
        outcome=outcome,
        same_type=same_type,
        same_node=same_node,
        same_service=same_service,
        agrees=all(compared) if compared else None,
        people_ended_badly=(outcome in BAD_OUTCOMES) if outcome else None,
        error=error,
    )


def empty_store(folder: Path) -> Path:
    """A migrated, empty SQLite store file: copied for each case instead of migrating anew."""
    path = folder / "template.db"
    Store.open(f"sqlite:///{path}").close()
    return path


def resolve_case(
    case: ReplayCase, base: Path, workdir: Path | None = None, template: Path | None = None
) -> Decision:
    """The agent's decision on the case, on a fresh SQLite store of its own."""
    network = case.resolved_network(base)
    policy = Policy.model_validate(case.policy) if case.policy is not None else None
    with tempfile.TemporaryDirectory(prefix="execlayer-agree-", dir=workdir) as home:
        db = Path(home) / "store.db"
        if template is not None:
            shutil.copyfile(template, db)
        settings = Settings(home=Path(home), db_url=f"sqlite:///{db}")
        with Resolver.open(settings, policy=policy, use_memory=False) as resolver:
            resolver.store.load_snapshot(network)
            return resolver.resolve(case.event)


def agreement(
    dataset: Path,
    *,
    progress: Callable[[int, int], None] | None = None,
    workdir: Path | None = None,
) -> AgreementReport:
    """Run the agent over every case of `dataset` and compare with what people did."""
    started = time.perf_counter()
    cases = list(read_cases(dataset))  # InputError naming the line
    items: list[CaseAgreement] = []
    with tempfile.TemporaryDirectory(prefix="execlayer-agree-", dir=workdir) as scratch:
        template = empty_store(Path(scratch))
        for done, case in enumerate(cases, start=1):
            decision: Decision | None = None
            error: str | None = None
            try:
                decision = resolve_case(case, dataset.parent, workdir, template)
            except (InputError, ResolutionError) as exc:
                error = str(exc)
            except ValidationError as exc:  # the case's policy override is not a policy
                error = "policy: " + "; ".join(describe(exc))
            items.append(compare(case, decision, error))
            if progress is not None:
                progress(done, len(cases))
    return summarise(str(dataset), items, time.perf_counter() - started)


def summarise(dataset: str, items: list[CaseAgreement], seconds: float) -> AgreementReport:
    compared = [i for i in items if i.agrees is not None]
    agree = [i for i in compared if i.agrees]
    disagree = [i for i in compared if not i.agrees]
    families: dict[str, list[CaseAgreement]] = defaultdict(list)
    statuses: dict[str, int] = defaultdict(int)
    for item in items:
        families[item.family].append(item)
        statuses[item.status] += 1
    return AgreementReport(
        dataset=dataset,
        cases=len(items),
        compared=len(compared),
        same_type_rate=_rate([i.same_type for i in items]),
        same_node_rate=_rate([i.same_node for i in items]),
        same_service_rate=_rate([i.same_service for i in items]),
        agreement_rate=_rate([i.agrees for i in items]),
        agreements=len(agree),
        disagreements=len(disagree),
        people_bad_when_agent_agrees=_rate([i.people_ended_badly for i in agree]),
        people_bad_when_agent_disagrees=_rate([i.people_ended_badly for i in disagree]),
        disagreements_people_ended_badly=sum(1 for i in disagree if i.people_ended_badly),
        agent_statuses=dict(sorted(statuses.items())),
        by_family={
            family: FamilyAgreement(
                cases=len(group),
                same_type_rate=_rate([i.same_type for i in group]),
                agreement_rate=_rate([i.agrees for i in group]),
            )
            for family, group in sorted(families.items())
        },
        items=items,
        seconds=round(seconds, 2),
    )
