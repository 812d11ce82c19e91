"""Workers: drain the queue of exceptions from a shared store, in several processes at once.

`POST /v1/exceptions?mode=queue` (or `ResolverCore.enqueue`) registers an exception as
`queued`; every worker (`execlayer worker`, one or several processes, each with one or more
threads) claims the oldest one with `SELECT ... FOR UPDATE SKIP LOCKED` (PostgreSQL; on SQLite
inside `BEGIN IMMEDIATE`), so each goes to exactly one worker, and decides it on the shared
checkpointer, thread id = exception id. A worker that dies holds its claims until the lease
runs out; then any worker puts them back in the queue and the next claimant finishes each run
from its last checkpoint (every step is idempotent by key, so nothing is done twice).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from agents.resolver import Resolver
from agents.resolver_core import CLAIM_LEASE, ResolutionError
from tools.decisions import Decision
from tools.inputs import InputError
from tools.store import ExceptionStatus

log = logging.getLogger(__name__)

IDLE_POLL_S = 0.5
REQUEUE_EVERY_S = 15.0


@dataclass
class DrainReport:
    """What one worker process did."""

    decided: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    failed: list[str] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.decided / self.seconds if self.seconds > 0 else 0.0


class Worker:
    """Claims queued exceptions and decides them, on `concurrency` threads of one resolver."""

    def __init__(
        self,
        resolver: Resolver,
        *,
        concurrency: int = 1,
        idle_s: float = IDLE_POLL_S,
        lease: timedelta = CLAIM_LEASE,
        on_decision: Callable[[Decision], None] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.resolver = resolver
        self.concurrency = concurrency
        self.idle_s = idle_s
        self.lease = lease
        self.on_decision = on_decision
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._last_requeue = 0.0

    def step(self) -> Decision | None:
        """Claim one queued exception and decide it; None when the queue is empty. A run
        that stops raises `ResolutionError` (its claim stays until the lease runs out)."""
        record = self.resolver.claim_next()
        if record is None:
            return None
        try:
            return self.resolver.resolve_claimed(record)
        except InputError as exc:  # e.g. its order left the network since it was queued
            self.resolver.store.set_exception_status(record.id, ExceptionStatus.FAILED)
            raise ResolutionError(f"{record.id} cannot be resolved any more: {exc}") from exc

    def requeue_stale(self, report: DrainReport) -> None:
        """At most every `REQUEUE_EVERY_S`: give dead claimants' exceptions back to the queue."""
        now = time.monotonic()
        with self._lock:
            if now - self._last_requeue < REQUEUE_EVERY_S:
                return
            self._last_requeue = now
        found = self.resolver.requeue_stale(self.lease)
        if found:
            log.warning("requeued %d exception(s) of a stopped claimant", len(found))
            with self._lock:
                report.requeued.extend(found)

    def _loop(self, report: DrainReport, once: bool) -> None:
        while not self.stop.is_set():
            self.requeue_stale(report)
            try:
                decision = self.step()
            except ResolutionError as exc:
                log.error("%s", exc)
                with self._lock:
                    report.failed.append(str(exc))
                continue
            except Exception as exc:  # the store went away ...: say so, wait, try again
                log.exception("worker step failed")
                with self._lock:
                    report.failed.append(f"{type(exc).__name__}: {exc}")
                if once:
                    return
                self.stop.wait(self.idle_s)
                continue
            if decision is None:
                if once:
                    return
                self.stop.wait(self.idle_s)
                continue
            with self._lock:
                report.decided += 1
                report.statuses[decision.status.value] += 1
            if self.on_decision is not None:
                self.on_decision(decision)

    def drain(self, *, once: bool = False) -> DrainReport:
        """Decide queued exceptions until the queue is empty (`once`) or `stop` is set."""
        report = DrainReport()
        t0 = time.perf_counter()
        threads = [
            threading.Thread(target=self._loop, args=(report, once), name=f"worker-{i}")
            for i in range(self.concurrency)
        ]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                while thread.is_alive():
                    thread.join(timeout=0.2)
        finally:
            self.stop.set()
            for thread in threads:
                thread.join()
            report.seconds = time.perf_counter() - t0
        return report
