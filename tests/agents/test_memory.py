"""PrecedentMemory over chromadb with the bundled offline embedding model."""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agents.embedding import embed_texts, load_model
from agents.memory import (
    MemoryUnavailable,
    Precedent,
    PrecedentMemory,
    PrecedentNotFound,
    PrecedentOutcome,
    PrecedentQuery,
)
from tests.agents.llm_fakes import overload_event
from tools.decisions import DecidedBy, DecisionStatus
from tools.events import EventType
from tools.settings import Settings
from tools.view import NetworkView

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 24, 9, 5, tzinfo=UTC)

OVERLOAD_BOS = (
    "node_overload at STORE-BOS (store, NE) affecting 1 gold d2c order of SKU-TENT, 1 unit "
    "worth $189; utilisation 325%; earliest promise in 2.6 days"
)
OVERLOAD_NYC = (
    "node_overload at STORE-NYC (store, NE) affecting 2 orders (1 gold, 1 silver; 2 d2c) of "
    "SKU-LANTERN, 3 units worth $120; utilisation 240%; earliest promise in 1.9 days"
)
DISRUPTION = (
    "carrier_disruption on carrier SWIFT in region SE affecting 4 orders (4 standard; 4 "
    "marketplace) of SKU-KAYAK, 4 units worth $3,200; carrier on-time 55%"
)
QUERY = (
    "node_overload at STORE-CAM (store, NE) affecting 1 silver d2c order of SKU-TENT, 1 unit "
    "worth $189; utilisation 290%; earliest promise in 3.1 days"
)


def precedent(
    exception_id: str, event_type: str, text: str, *, kind: str = "reallocate", cost: float = 3.1
) -> Precedent:
    return Precedent(
        exception_id=exception_id,
        event_type=EventType(event_type),
        text=text,
        status=DecisionStatus.AUTO_RESOLVED,
        chosen_kind=kind,
        actions_summary=f"{kind} O-1 -> DC-NJ via PARCELCO-TWO_DAY",
        decided_by=DecidedBy.POLICY,
        cost_delta=cost,
        recorded_at=T0,
    )


@pytest.fixture
def memory() -> Iterator[PrecedentMemory]:
    with PrecedentMemory.open(None) as mem:
        yield mem


@pytest.fixture
def three(memory: PrecedentMemory) -> PrecedentMemory:
    memory.remember(precedent("EX-A", "node_overload", OVERLOAD_BOS))
    memory.remember(precedent("EX-B", "node_overload", OVERLOAD_NYC))
    memory.remember(precedent("EX-C", "carrier_disruption", DISRUPTION, kind="reallocate"))
    return memory


# ---------------------------------------------------------------------------- basics


def test_round_trip(memory: PrecedentMemory):
    original = precedent("EX-A", "node_overload", OVERLOAD_BOS)
    assert memory.count() == 0
    memory.remember(original)
    assert memory.count() == 1
    assert memory.get("EX-A") == original
    assert memory.get("EX-NOPE") is None


def test_remember_upserts_by_exception_id(memory: PrecedentMemory):
    memory.remember(precedent("EX-A", "node_overload", OVERLOAD_BOS, cost=1.0))
    memory.remember(precedent("EX-A", "node_overload", OVERLOAD_BOS, cost=9.0))
    assert memory.count() == 1
    assert memory.get("EX-A").cost_delta == 9.0


def test_remember_many(memory: PrecedentMemory):
    memory.remember_many(
        [
            precedent("EX-A", "node_overload", OVERLOAD_BOS, cost=1.0),
            precedent("EX-B", "node_overload", OVERLOAD_NYC),
            precedent("EX-A", "node_overload", OVERLOAD_BOS, cost=2.0),
        ]
    )
    memory.remember_many([])
    assert memory.count() == 2
    assert memory.get("EX-A").cost_delta == 2.0


def test_record_outcome(three: PrecedentMemory):
    outcome = PrecedentOutcome(promise_kept=False, lateness_days=1.5, actual_cost=14.2)
    updated = three.record_outcome("EX-A", outcome)
    assert updated.outcome == outcome
    assert three.get("EX-A").outcome == outcome
    assert three.count() == 3
    line = three.get("EX-A").line()
    assert "promise missed" in line and "1.5 days late" in line
    # the outcome travels with the case when it is retrieved
    assert three.similar(OVERLOAD_BOS, k=1)[0].precedent.outcome == outcome


def test_record_outcome_of_an_unknown_case(memory: PrecedentMemory):
    with pytest.raises(PrecedentNotFound, match="EX-NOPE"):
        memory.record_outcome("EX-NOPE", PrecedentOutcome(promise_kept=True))


def test_instances_in_memory_are_private():
    with PrecedentMemory.open(None) as one, PrecedentMemory.open(None) as two:
        one.remember(precedent("EX-A", "node_overload", OVERLOAD_BOS))
        assert (one.count(), two.count()) == (1, 0)
        assert one.name != two.name


# ------------------------------------------------------------------------ similarity


def test_similar_ranks_the_obviously_similar_case_first(three: PrecedentMemory):
    found = three.similar(QUERY, k=3)
    ids = [c.precedent.exception_id for c in found]
    print("\nsimilarity:", [(c.precedent.exception_id, c.similarity) for c in found])
    assert ids[0] == "EX-A"  # same SKU, same kind of node, same event
    assert ids[-1] == "EX-C"  # the carrier disruption is the least similar
    assert found[0].distance < found[1].distance < found[2].distance
    assert all(abs(c.similarity - (1 - c.distance)) < 1e-6 for c in found)


def test_similar_filters_by_type_and_excludes_the_current_case(three: PrecedentMemory):
    only = three.similar(QUERY, k=3, event_type=EventType.CARRIER_DISRUPTION)
    assert [c.precedent.exception_id for c in only] == ["EX-C"]
    assert [c.precedent.exception_id for c in three.similar(QUERY, k=3, exclude="EX-A")] == [
        "EX-B",
        "EX-C",
    ]
    both = three.similar(QUERY, k=3, event_type="node_overload", exclude="EX-A")
    assert [c.precedent.exception_id for c in both] == ["EX-B"]


def test_query_from_an_event(three: PrecedentMemory, northeast: NetworkView):
    query = PrecedentQuery.of(overload_event(), northeast, same_type=True)
    assert query.exclude_exception_id == "EX-T1"
    found = three.similar(query, k=5)
    assert {c.precedent.event_type for c in found} == {EventType.NODE_OVERLOAD}
    assert found[0].precedent.exception_id == "EX-A"


def test_similar_on_an_empty_memory(memory: PrecedentMemory):
    assert memory.similar(QUERY) == []


def test_same_query_same_answer(three: PrecedentMemory):
    assert three.similar(QUERY, k=3) == three.similar(QUERY, k=3)


def test_equal_distances_break_ties_by_id(memory: PrecedentMemory):
    memory.remember_many([precedent(i, "node_overload", OVERLOAD_BOS) for i in ("EX-2", "EX-1")])
    assert [c.precedent.exception_id for c in memory.similar(OVERLOAD_BOS, k=2)] == [
        "EX-1",
        "EX-2",
    ]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"k": 0}, "k"), ({"k": 51}, "k"), ({"event_type": "bogus"}, "event_type")],
)
def test_bad_queries_name_the_field(three: PrecedentMemory, kwargs: dict, field: str):
    with pytest.raises(ValueError, match=field):
        three.similar(QUERY, **kwargs)
    with pytest.raises(ValueError, match="query"):
        three.similar("   ")


# ----------------------------------------------------------------------- persistence


def test_persistent_memory_reopens_in_a_new_process(tmp_path: Path):
    """Written here, read by a fresh interpreter with a new chromadb client: the collection's
    embedding function is rebuilt from its stored config through the registration, nothing is
    downloaded (HF offline, no network, empty HOME) and retrieval works."""
    store = tmp_path / "memory"
    mem = PrecedentMemory.open(store)
    mem.remember_many(
        [
            precedent("EX-A", "node_overload", OVERLOAD_BOS),
            precedent("EX-B", "node_overload", OVERLOAD_NYC),
            precedent("EX-C", "carrier_disruption", DISRUPTION),
        ]
    )
    mem.record_outcome("EX-A", PrecedentOutcome(promise_kept=True))
    home = tmp_path / "home"
    home.mkdir()
    script = textwrap.dedent(
        f"""
        import json, socket, sys
        def no_network(*args, **kwargs):
            raise OSError("network disabled in this test")
        socket.socket.connect = no_network
        socket.create_connection = no_network
        import chromadb
        import agents.embedding  # registers the embedding function
        from chromadb.config import Settings
        settings = Settings(anonymized_telemetry=False)
        client = chromadb.PersistentClient({str(store)!r}, settings=settings)
        raw = client.get_collection("execlayer-precedents")  # no embedding function given
        raw_ids = raw.query(query_texts=[{QUERY!r}], n_results=1)["ids"][0]
        from agents.memory import PrecedentMemory
        mem = PrecedentMemory.open(__import__("pathlib").Path({str(store)!r}))
        found = mem.similar({QUERY!r}, k=3)
        print(json.dumps({{
            "count": mem.count(),
            "raw_first": raw_ids[0],
            "ids": [c.precedent.exception_id for c in found],
            "kept": mem.get("EX-A").outcome.promise_kept,
            "ef": raw.configuration_json["embedding_function"]["name"],
        }}))
        """
    )
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "PYTHONPATH": str(REPO),
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {
        "count": 3,
        "raw_first": "EX-A",
        "ids": ["EX-A", "EX-B", "EX-C"],
        "kept": True,
        "ef": "execlayer-model2vec",
    }
    assert not (home / ".cache" / "chroma").exists()  # chromadb's default model: never fetched
    assert not (home / ".cache" / "huggingface").exists()


def test_from_settings_uses_the_memory_dir(tmp_path: Path):
    settings = Settings(_env_file=None, home=tmp_path / "home")
    mem = PrecedentMemory.from_settings(settings)
    mem.remember(precedent("EX-A", "node_overload", OVERLOAD_BOS))
    assert (tmp_path / "home" / "memory" / "chroma.sqlite3").is_file()
    assert PrecedentMemory.from_settings(settings).count() == 1


# -------------------------------------------------------------------------- failures


def test_a_file_where_the_folder_should_be(tmp_path: Path):
    blocker = tmp_path / "memory"
    blocker.write_text("not a folder")
    with pytest.raises(MemoryUnavailable, match="open"):
        PrecedentMemory.open(blocker)


def test_a_corrupt_database(tmp_path: Path):
    store = tmp_path / "memory"
    store.mkdir()
    (store / "chroma.sqlite3").write_bytes(b"this is not a sqlite database" * 100)
    with pytest.raises(MemoryUnavailable):
        mem = PrecedentMemory.open(store)
        mem.remember(precedent("EX-A", "node_overload", OVERLOAD_BOS))


def test_a_store_that_goes_away(caplog: pytest.LogCaptureFixture):
    mem = PrecedentMemory.open(None)
    mem.remember(precedent("EX-A", "node_overload", OVERLOAD_BOS))
    mem.close()  # drops the collection under our feet
    with pytest.raises(MemoryUnavailable, match="similar"):
        mem.similar(QUERY)
    with pytest.raises(MemoryUnavailable):
        mem.remember(precedent("EX-B", "node_overload", OVERLOAD_NYC))
    with pytest.raises(MemoryUnavailable):
        mem.count()
    caplog.set_level(logging.WARNING)
    assert mem.similar_or_empty(QUERY) == []
    assert "precedents unavailable" in caplog.text


def test_an_unreachable_server():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(MemoryUnavailable, match="open"):
        PrecedentMemory.open(None, server_url=f"http://127.0.0.1:{port}")


def test_a_bad_server_url_names_the_setting():
    with pytest.raises(MemoryUnavailable, match="memory_url"):
        PrecedentMemory.open(None, server_url="ftp://nowhere")


def test_settings_memory_url(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("EXECLAYER_MEMORY_URL", "http://chroma.internal:8000")
    assert Settings(_env_file=None).memory_url == "http://chroma.internal:8000"
    monkeypatch.setenv("EXECLAYER_MEMORY_URL", " ")
    assert Settings(_env_file=None).memory_url is None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_chromadb_server_mode(tmp_path: Path):
    """A real `chroma run` server: remember and retrieve, reopen with a new HTTP client, then
    lose the server and keep deciding (similar_or_empty)."""
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    if not Path(chroma).exists():
        pytest.skip("the chroma server command is not installed")
    port = _free_port()
    server = subprocess.Popen(
        [
            chroma,
            "run",
            "--path",
            str(tmp_path / "srv"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                mem = PrecedentMemory.open(None, server_url=url)
                break
            except MemoryUnavailable:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("the chroma server did not start")
                time.sleep(0.2)
        mem.remember_many(
            [
                precedent("EX-A", "node_overload", OVERLOAD_BOS),
                precedent("EX-C", "carrier_disruption", DISRUPTION),
            ]
        )
        again = PrecedentMemory.from_settings(Settings(_env_file=None, memory_url=url))
        assert again.count() == 2
        assert again.similar(QUERY, k=1)[0].precedent.exception_id == "EX-A"
    finally:
        server.terminate()
        server.wait(timeout=30)
    with pytest.raises(MemoryUnavailable):
        again.similar(QUERY)
    assert again.similar_or_empty(QUERY) == []


# ----------------------------------------------------------------------- measurement


def _synthetic_texts(n: int, seed: int = 7) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    nodes = ["STORE-BOS", "STORE-NYC", "STORE-CAM", "DC-NJ", "DC-PA", "3PL-EAST", "DIST-ALB"]
    skus = ["SKU-TENT", "SKU-LANTERN", "SKU-FUEL", "SKU-KAYAK", "SKU-GLOVES"]
    tiers = ["standard", "silver", "gold", "b2b_contract"]
    types = [t for t in EventType if t is not EventType.UNSTRUCTURED]
    out = []
    for _ in range(n):
        kind = rng.choice(types)
        text = (
            f"{kind.value} at {rng.choice(nodes)} affecting {rng.randint(1, 9)} "
            f"{rng.choice(tiers)} orders of {rng.choice(skus)}, {rng.randint(1, 40)} units worth "
            f"${rng.randint(20, 5000)}; utilisation {rng.randint(10, 400)}%; earliest promise in "
            f"{rng.uniform(0.2, 9):.1f} days"
        )
        out.append((kind.value, text))
    return out


def test_measure_embedding_and_1000_precedents():
    """Prints the figures of the report; asserts behaviour only (no timing asserts)."""
    load_model()
    texts = _synthetic_texts(1000)
    started = time.perf_counter()
    embed_texts([t for _, t in texts])
    batch_ms = (time.perf_counter() - started) * 1000
    singles = []
    for _, text in texts[:100]:
        t = time.perf_counter()
        embed_texts([text])
        singles.append((time.perf_counter() - t) * 1000)

    with PrecedentMemory.open(None) as mem:
        records = [precedent(f"EX-{i:04d}", kind, text) for i, (kind, text) in enumerate(texts)]
        adds = []
        for record in records[:100]:
            t = time.perf_counter()
            mem.remember(record)
            adds.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        mem.remember_many(records[100:])
        bulk_ms = (time.perf_counter() - t) * 1000
        assert mem.count() == 1000
        queries = []
        for _, text in _synthetic_texts(50, seed=11):
            t = time.perf_counter()
            found = mem.similar(text, k=3)
            queries.append((time.perf_counter() - t) * 1000)
            assert len(found) == 3
        t = time.perf_counter()
        mem.remember(precedent("EX-NEW", "node_overload", OVERLOAD_BOS))
        add_at_1000 = (time.perf_counter() - t) * 1000
        exact = mem.similar(OVERLOAD_BOS, k=1)[0]
        assert exact.precedent.exception_id == "EX-NEW"

    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    print(
        "\nprecedent memory figures:"
        f"\n  embedding: {batch_ms / 1000:.3f} ms/text in a batch of 1000; "
        f"single text median {median(singles):.3f} ms"
        f"\n  remember(): median {median(adds):.2f} ms (first 100); "
        f"remember_many(900): {bulk_ms:.0f} ms ({bulk_ms / 900:.2f} ms/precedent); "
        f"remember() at 1000 stored: {add_at_1000:.2f} ms"
        f"\n  similar(k=3) at 1000 stored: median {median(queries):.2f} ms, "
        f"max {max(queries):.2f} ms over 50 queries"
    )


def test_outcome_validation():
    with pytest.raises(ValueError, match="lateness_days"):
        PrecedentOutcome(lateness_days=-1)
    assert PrecedentOutcome(recorded_at=T0 + timedelta(days=1)).phrase() == "no outcome facts"
