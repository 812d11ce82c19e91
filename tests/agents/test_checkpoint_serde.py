"""The checkpoint serializer: every value of a real resolver state loads back equal."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from agents.checkpoints import MemoSerializer, serializer, state_types
from agents.resolver import Resolver
from evals.bench import _settings
from evals.bench_workload import FAMILIES, bench_events, bench_network
from tools.decisions import Action, ActionType, Candidate, Outcome, ScoreBreakdown, Verdict


# A value LangGraph could not validate is loaded with `model_construct` and a serializer
# warning: that must fail here, not pass as an equal-looking object.
@pytest.mark.filterwarnings("error")
def test_every_channel_of_decided_states_round_trips(tmp_path: Path) -> None:
    snapshot = bench_network(len(FAMILIES) * 2, 8)
    events = bench_events(snapshot, len(FAMILIES) * 2)  # every family, twice
    serde = serializer()
    fresh = serializer()  # no memo: loading must not depend on the encoder's cache
    checked: set[str] = set()
    with Resolver.open(_settings(tmp_path), use_llm=False, use_memory=False) as resolver:
        resolver.store.load_snapshot(snapshot)
        for event in events:
            resolver.resolve(event)
            values = resolver.graph.get_state(resolver.config(event.id)).values
            for channel, value in values.items():
                if value is None:
                    continue
                kind, data = serde.dumps_typed(value)
                assert fresh.loads_typed((kind, data)) == value, channel
                assert serde.dumps_typed(value) == (kind, data)  # memo: same bytes again
                checked.add(channel)
    assert {"event", "signals", "candidates", "verdicts", "executions", "decision"} <= checked


def test_state_models_can_be_rebuilt_from_their_own_values() -> None:
    """The serializer packs a model's `__dict__` and LangGraph rebuilds it as `cls(**fields)`:
    that is only the same model when no field has an alias, nothing lives outside `__dict__`
    (extras, computed fields) and no validator rewrites a value it is given back."""
    models = [t for t in state_types() if issubclass(t, BaseModel)]
    assert len(models) >= 10
    for model in models:
        assert model.model_config.get("extra") != "allow", model
        assert not model.__pydantic_computed_fields__, model
        assert not model.__pydantic_decorators__.field_validators, model
        for name, info in model.model_fields.items():
            assert not (info.alias or info.validation_alias or info.serialization_alias), (
                f"{model.__name__}.{name}"
            )


def test_models_inside_models_are_encoded_once() -> None:
    serde = MemoSerializer(allowed_msgpack_modules=state_types())
    encoded: list[str] = []
    encode = serde._encode_model

    def counting(obj: BaseModel) -> Any:
        encoded.append(type(obj).__name__)
        return encode(obj)

    serde._encode_model = counting  # type: ignore[method-assign]
    verdict = Verdict(rule="max_split_nodes", outcome=Outcome.ALLOW, reason="2 nodes <= 3")
    verdicts = [verdict, verdict.model_copy(update={"rule": "tiers", "value": 2.0})]
    first = serde.dumps_typed(verdicts)
    candidate = Candidate(
        id="C1",
        kind="reallocate",
        summary="ship O1 from DC-NE",
        actions=[Action(type=ActionType.REALLOCATE, order="O1", node="DC-NE")],
        orders=["O1"],
        score=ScoreBreakdown(total=12.5),
        eta=datetime(2026, 11, 26, 17, tzinfo=UTC),
        verdicts=verdicts,
    )
    written = serde.dumps_typed({"candidates": [candidate], "verdicts": verdicts})
    # each model once; the candidate's verdicts are the ones already encoded
    assert encoded == ["Verdict", "Verdict", "Candidate", "Action", "ScoreBreakdown"]
    fresh = serializer()  # no memo
    assert fresh.loads_typed(first) == verdicts
    assert fresh.loads_typed(written) == {"candidates": [candidate], "verdicts": verdicts}
    assert serde.dumps_typed(verdicts) == first  # the same bytes again
