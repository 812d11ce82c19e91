"""The checkpoint serializer: every value of a real resolver state loads back equal."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.checkpoints import serializer
from agents.resolver import Resolver
from evals.bench import _settings
from evals.bench_workload import FAMILIES, bench_events, bench_network


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
