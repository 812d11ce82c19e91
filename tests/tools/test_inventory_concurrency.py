"""Many threads and several processes racing for the last units, on SQLite (a file) and on
PostgreSQL: reserved never exceeds what was available, and every key is applied once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tools.inventory import InsufficientStock, reserve
from tools.network import NetworkSnapshot
from tools.store import Store

from .multiproc import run_in_processes

NODE, SKU = "STORE-BOS", "SKU-TENT"  # on_hand 12, reserved 2, safety stock 1: ATP 9
ATP = 9


def _attempt(store: Store, key: str, qty: int) -> str:
    try:
        got = reserve(store, key, NODE, SKU, qty)
    except InsufficientStock:
        return "short"
    return "replayed" if got.replayed else "held"


def _check(store: Store, outcomes: dict[str, list[str]], qty: int) -> int:
    """Every key applied at most once, reserved == start + what the ledger holds <= ATP."""
    pos = store.get_position(NODE, SKU)
    assert pos is not None
    held = store.held_reservations(NODE, SKU)
    assert sum(r.qty for r in held) == pos.reserved - 2
    assert pos.reserved <= pos.on_hand - 1  # safety stock untouched, nothing oversold
    for key, results in outcomes.items():
        assert results.count("held") <= 1, key
        if "held" in results:
            assert "short" not in results[results.index("held") :], key
    assert {r.key for r in held} == {k for k, rs in outcomes.items() if "held" in rs}
    return len(held) * qty


@pytest.mark.parametrize("qty", [1, 2])
def test_threads_race_for_the_last_units(northeast_store: Store, qty: int) -> None:
    threads, keys = 16, 24  # more keys than units; each key tried by two threads
    start = threading.Barrier(threads)
    jobs = [f"t-{i % keys}" for i in range(keys * 2)]
    outcomes: dict[str, list[str]] = {}
    lock = threading.Lock()

    def work(chunk: list[str]) -> None:
        start.wait()
        for key in chunk:
            result = _attempt(northeast_store, key, qty)
            with lock:
                outcomes.setdefault(key, []).append(result)

    chunks = [jobs[i::threads] for i in range(threads)]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, chunks))
    elapsed = time.perf_counter() - t0
    reserved = _check(northeast_store, outcomes, qty)
    assert reserved == (ATP // qty) * qty  # every unit that could be sold was, no more
    counts = Counter(r for rs in outcomes.values() for r in rs)
    print(
        f"\n{northeast_store.backend}: {len(jobs)} reservations by {threads} threads in "
        f"{elapsed * 1000:.0f} ms: {dict(counts)}"
    )


def _process_worker(url: str, keys: list[str]) -> list[tuple[str, str]]:
    store = Store.open(url)
    try:
        return [(key, _attempt(store, key, 1)) for key in keys]
    finally:
        store.close()


def test_processes_race_for_the_last_units(store_url: str, northeast: NetworkSnapshot) -> None:
    with Store.open(store_url) as setup:
        setup.load_snapshot(northeast)
    processes, per_process = 4, 6  # 24 attempts, 12 distinct keys (each in 2 processes), 9 units
    batches = [
        (store_url, [f"p-{(3 * w + j) % 12}" for j in range(per_process)]) for w in range(processes)
    ]
    t0 = time.perf_counter()
    results = run_in_processes(_process_worker, batches)
    elapsed = time.perf_counter() - t0
    outcomes: dict[str, list[str]] = {}
    for result in results:
        for key, outcome in result:
            outcomes.setdefault(key, []).append(outcome)
    with Store.open(store_url) as check:
        assert _check(check, outcomes, 1) == ATP
    print(f"\n{processes} processes x {per_process} reservations in {elapsed * 1000:.0f} ms")
