"""Soak: N exceptions through the real HTTP API (uvicorn on loopback) from concurrent clients.

    execlayer eval soak --n 10000 --clients 8 [--orders 2000] [--db URL] [--out DIR] [--json]
    python -m evals.soak --n 300 --clients 4

A seeded synthetic network is loaded into a fresh store, `execlayer serve` is started on a free
loopback port, and `clients` concurrent clients post N exception events (single-order
`sla_risk`, `node_overload` and `cutoff_missed`, rotating over the orders), plus re-sends of
about 1% of them (the same id: the idempotency path). The server's resident memory (RSS) is
sampled all along. At the end the store is counted: every accepted exception has exactly one
decision, none is missing, none was executed twice (one `applied` row per action key), and no
reservation is held by an exception that did not execute.

Figures: errors by kind, decisions by status, throughput, latency p50/p95/p99, RSS start (after
warm-up) / peak / end and its slope per 1,000 exceptions; a chart of RSS and throughput over
time (SVG) when `--out` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import text

from tools.network import NetworkSnapshot
from tools.sourcing.synthetic import surge_network
from tools.store import Store

EVENT_TYPES = ("sla_risk", "node_overload", "cutoff_missed")
WARMUP_SHARE = 0.1  # RSS "start" is taken once this share of the exceptions is done
START_TIMEOUT_S = 120.0


class SoakError(Exception):
    """The soak could not run (the server did not start, bad arguments ...)."""


@dataclass
class RssSample:
    t: float  # seconds since the first request
    done: int  # exceptions answered so far
    rss_mb: float


@dataclass
class SoakReport:
    n: int
    clients: int
    orders: int
    duplicates_sent: int
    seconds: float
    throughput_per_s: float
    latency_ms: dict[str, float]
    statuses: dict[str, int]
    http_codes: dict[str, int]
    errors: list[str]
    decisions_in_store: int
    exceptions_in_store: int
    lost: list[str]
    duplicated: list[str]
    double_applied: int
    stray_holds: int
    duplicate_answers_differing: int
    rss_start_mb: float
    rss_peak_mb: float
    rss_end_mb: float
    rss_slope_mb_per_1000: float
    samples: list[RssSample] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.errors
            or self.lost
            or self.duplicated
            or self.double_applied
            or self.stray_holds
            or self.duplicate_answers_differing
        )

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("samples")
        data["errors"] = self.errors[:20]
        data["ok"] = self.ok
        return data


# ----------------------------------------------------------------------- the workload


def soak_network(orders: int, seed: int, nodes: int = 20) -> NetworkSnapshot:
    """The synthetic continental network (no outage applied: the events are per order)."""
    snapshot, _ = surge_network(orders=orders, nodes=nodes, seed=seed)
    return snapshot


def soak_events(snapshot: NetworkSnapshot, n: int, run_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    occurred = snapshot.as_of.isoformat().replace("+00:00", "Z")
    for i in range(n):
        order = snapshot.orders[i % len(snapshot.orders)]
        kind = EVENT_TYPES[i % len(EVENT_TYPES)]
        event: dict[str, Any] = {
            "id": f"SOAK-{run_id}-{i:06d}",
            "type": kind,
            "occurred_at": occurred,
            "source": "monitor",
            "orders": [order.id],
        }
        if kind == "node_overload" and order.allocation is not None:
            event["node"] = order.allocation.node
        events.append(event)
    return events


# ----------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_mb(pid: int) -> float | None:
    """Resident set size of a process (Linux /proc), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class Server:
    """`execlayer serve` in a child process on a loopback port."""

    def __init__(self, home: Path, db_url: str, api_key: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("EXECLAYER_") or k == "EXECLAYER_SHARED_DIR"
        }
        env |= {
            "EXECLAYER_HOME": str(home),
            "EXECLAYER_API_KEYS": f"soak={api_key}:operator",
            "EXECLAYER_PRECEDENT_MEMORY": "false",
            "ANONYMIZED_TELEMETRY": "False",
        }
        self.log_path = home / "server.log"
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed argv
            [
                sys.executable,
                "-c",
                "from api.cli import app; app()",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--db",
                db_url,
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SoakError(f"the server exited: {self.tail()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2.0).status_code in (200, 503):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise SoakError(f"the server did not answer within {START_TIMEOUT_S:g} s: {self.tail()}")

    def tail(self) -> str:
        self.log.flush()
        return self.log_path.read_text()[-2000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


class RssSampler(threading.Thread):
    def __init__(self, pid: int, progress: dict[str, int], every_s: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pid, self.progress, self.every_s = pid, progress, every_s
        self.samples: list[RssSample] = []
        self.stop_event = threading.Event()
        self.started = time.monotonic()

    def run(self) -> None:
        while not self.stop_event.is_set():
            value = rss_mb(self.pid)
            if value is not None:
                self.samples.append(
                    RssSample(time.monotonic() - self.started, self.progress["done"], value)
                )
            self.stop_event.wait(self.every_s)

    def stop(self) -> None:
        self.stop_event.set()
        self.join()


# ----------------------------------------------------------------------- the clients


@dataclass
class Results:
    latencies_ms: list[float] = field(default_factory=list)
    codes: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    answered: dict[str, dict[str, Any]] = field(default_factory=dict)
    duplicates_sent: int = 0
    duplicates_differing: int = 0


async def fire(
    url: str,
    api_key: str,
    events: list[dict[str, Any]],
    clients: int,
    results: Results,
    progress: dict[str, int],
    on_done: Any,
) -> None:
    queue: asyncio.Queue[tuple[dict[str, Any], bool]] = asyncio.Queue()
    for i, event in enumerate(events):
        queue.put_nowait((event, False))
        if i % 97 == 50:  # ~1%: the same id again, later (idempotency under load)
            queue.put_nowait((event, True))
    headers = {"Authorization": f"Bearer {api_key}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits) as client:

        async def worker() -> None:
            while True:
                try:
                    event, duplicate = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                try:
                    response = await client.post("/v1/exceptions", json=event, timeout=120.0)
                except httpx.HTTPError as exc:
                    results.errors.append(f"{event['id']}: {type(exc).__name__}: {exc}")
                    results.codes["transport-error"] += 1
                    continue
                elapsed = (time.perf_counter() - started) * 1000
                results.codes[str(response.status_code)] += 1
                if response.status_code not in (200, 202):
                    results.errors.append(
                        f"{event['id']}: HTTP {response.status_code} {response.text[:200]}"
                    )
                    continue
                body = response.json()
                if duplicate:
                    results.duplicates_sent += 1
                    first = results.answered.get(event["id"])
                    if first is not None and _essence(first) != _essence(body):
                        results.duplicates_differing += 1
                    continue
                results.latencies_ms.append(elapsed)
                results.statuses[body["status"]] += 1
                results.answered[event["id"]] = body
                progress["done"] += 1
                on_done()

        await asyncio.gather(*(worker() for _ in range(clients)))


def _essence(decision: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in decision.items() if k not in ("latency_ms",)}


# ----------------------------------------------------------------------- counting


def count_store(db_url: str, ids: list[str]) -> dict[str, Any]:
    store = Store.open(db_url)
    try:
        engine = store._engine
        with engine.connect() as conn:
            per_exception: dict[str, int] = {
                str(exception_id): int(count)
                for exception_id, count in conn.execute(
                    text(
                        "SELECT exception_id, COUNT(DISTINCT id) FROM decision_log "
                        "WHERE exception_id LIKE 'SOAK-%' GROUP BY exception_id"
                    )
                )
            }
            exceptions = conn.execute(
                text("SELECT COUNT(*) FROM exceptions WHERE id LIKE 'SOAK-%'")
            ).scalar_one()
            double_applied = conn.execute(
                text(
                    "SELECT COUNT(*) FROM (SELECT key FROM action_log WHERE status = 'applied' "
                    "GROUP BY key HAVING COUNT(*) > 1) AS doubled"
                )
            ).scalar_one()
            executed = {
                str(row[0])
                for row in conn.execute(
                    text("SELECT DISTINCT exception_id FROM action_log WHERE status = 'applied'")
                )
            }
            held = [
                str(row[0])
                for row in conn.execute(text("SELECT key FROM reservations WHERE state = 'held'"))
            ]
    finally:
        store.close()
    # A reservation key starts with its exception id and attempt ("<id>:<attempt>:...").
    stray_holds = sum(1 for key in held if key.split(":", 1)[0] not in executed)
    lost = [i for i in ids if i not in per_exception]
    duplicated = [i for i, c in per_exception.items() if c > 1]
    return {
        "decisions": len(per_exception),
        "exceptions": int(exceptions),
        "lost": lost,
        "duplicated": duplicated,
        "double_applied": int(double_applied),
        "stray_holds": stray_holds,
    }


def slope_per_1000(samples: list[RssSample]) -> float:
    """Least-squares slope of RSS (MB) against exceptions done, per 1,000 exceptions."""
    points = [(s.done, s.rss_mb) for s in samples]
    if len(points) < 3 or len({x for x, _ in points}) < 2:
        return 0.0
    mean_x = statistics.fmean(x for x, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    num = sum((x - mean_x) * (y - mean_y) for x, y in points)
    den = sum((x - mean_x) ** 2 for x, _ in points)
    return num / den * 1000 if den else 0.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# ----------------------------------------------------------------------- running


def run_soak(
    n: int = 300,
    clients: int = 8,
    *,
    orders: int | None = None,
    seed: int = 11,
    db_url: str | None = None,
    workdir: Path | None = None,
    console: Console | None = None,
    show_progress: bool = True,
) -> SoakReport:
    if n < 1 or clients < 1:
        raise SoakError("--n and --clients must be at least 1")
    console = console or Console(stderr=True)
    orders = orders or max(50, min(2000, n // 5))
    own_dir = workdir is None
    home = Path(tempfile.mkdtemp(prefix="execlayer-soak-")) if workdir is None else workdir
    home.mkdir(parents=True, exist_ok=True)
    db_url = db_url or f"sqlite:///{(home / 'soak.db').as_posix()}"
    snapshot = soak_network(orders, seed)
    store = Store.open(db_url)
    try:
        store.load_snapshot(snapshot)
    finally:
        store.close()
    run_id = secrets.token_hex(3)
    events = soak_events(snapshot, n, run_id)
    api_key = secrets.token_hex(16)
    server = Server(home, db_url, api_key)
    results = Results()
    progress_state = {"done": 0}
    try:
        server.wait_ready()
        sampler = RssSampler(server.process.pid, progress_state)
        sampler.start()
        started = time.monotonic()
        with Progress(
            TextColumn("soak"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[rss]}"),
            console=console,
            disable=not show_progress,
        ) as progress:
            task = progress.add_task("soak", total=n, rss="")

            def on_done() -> None:
                last = sampler.samples[-1].rss_mb if sampler.samples else 0.0
                progress.update(task, advance=1, rss=f"server RSS {last:.0f} MB")

            asyncio.run(
                fire(server.url, api_key, events, clients, results, progress_state, on_done)
            )
        seconds = time.monotonic() - started
        sampler.stop()
    finally:
        server.stop()
    counted = count_store(db_url, [e["id"] for e in events])
    samples = sampler.samples
    warm = [s for s in samples if s.done >= n * WARMUP_SHARE] or samples
    report = SoakReport(
        n=n,
        clients=clients,
        orders=orders,
        duplicates_sent=results.duplicates_sent,
        seconds=round(seconds, 2),
        throughput_per_s=round(len(results.latencies_ms) / seconds, 2) if seconds else 0.0,
        latency_ms={
            "p50": round(percentile(results.latencies_ms, 0.50), 1),
            "p95": round(percentile(results.latencies_ms, 0.95), 1),
            "p99": round(percentile(results.latencies_ms, 0.99), 1),
            "max": round(max(results.latencies_ms, default=0.0), 1),
        },
        statuses=dict(results.statuses),
        http_codes=dict(results.codes),
        errors=results.errors,
        decisions_in_store=counted["decisions"],
        exceptions_in_store=counted["exceptions"],
        lost=counted["lost"],
        duplicated=counted["duplicated"],
        double_applied=counted["double_applied"],
        stray_holds=counted["stray_holds"],
        duplicate_answers_differing=results.duplicates_differing,
        rss_start_mb=round(warm[0].rss_mb, 1) if warm else 0.0,
        rss_peak_mb=round(max((s.rss_mb for s in samples), default=0.0), 1),
        rss_end_mb=round(samples[-1].rss_mb, 1) if samples else 0.0,
        rss_slope_mb_per_1000=round(slope_per_1000(warm), 2),
        samples=samples,
    )
    if own_dir and report.ok:
        import shutil

        shutil.rmtree(home, ignore_errors=True)
    return report


# ----------------------------------------------------------------------- reporting


def render(report: SoakReport, console: Console) -> None:
    table = Table(title=f"soak: {report.n:,} exceptions, {report.clients} clients")
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = [
        ("orders in the network", f"{report.orders:,}"),
        ("duration", f"{report.seconds:,.1f} s"),
        ("throughput", f"{report.throughput_per_s:,.1f} exceptions/s"),
        ("latency p50 / p95 / p99", "{p50} / {p95} / {p99} ms".format(**report.latency_ms)),
        ("decisions by status", ", ".join(f"{k} {v:,}" for k, v in report.statuses.items())),
        ("HTTP answers", ", ".join(f"{k}: {v:,}" for k, v in report.http_codes.items())),
        ("errors", f"{len(report.errors):,}"),
        ("decisions in the store", f"{report.decisions_in_store:,}"),
        ("lost / duplicated decisions", f"{len(report.lost):,} / {len(report.duplicated):,}"),
        (
            "re-sent ids / answered differently",
            f"{report.duplicates_sent} / {report.duplicate_answers_differing}",
        ),
        ("actions applied twice / stray holds", f"{report.double_applied} / {report.stray_holds}"),
        (
            "server RSS start / peak / end",
            f"{report.rss_start_mb:.0f} / {report.rss_peak_mb:.0f} / {report.rss_end_mb:.0f} MB",
        ),
        ("RSS slope", f"{report.rss_slope_mb_per_1000:+.2f} MB per 1,000 exceptions"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    console.print("[bold green]OK[/]" if report.ok else "[bold red]FAILED[/]")
    for error in report.errors[:10]:
        console.print(f"  [red]{error}[/]", highlight=False)


def chart_svg(report: SoakReport, width: int = 720, height: int = 300) -> str:
    """RSS (MB) against exceptions done, as a small standalone SVG."""
    samples = report.samples or [RssSample(0, 0, 0.0)]
    pad = 50
    max_x = max([1, *(s.done for s in samples)])
    lo = min(s.rss_mb for s in samples)
    hi = max(s.rss_mb for s in samples)
    lo, hi = max(0.0, lo - 20), hi + 20

    def xy(s: RssSample) -> str:
        x = pad + (width - 2 * pad) * s.done / max_x
        y = height - pad - (height - 2 * pad) * (s.rss_mb - lo) / (hi - lo or 1)
        return f"{x:.1f},{y:.1f}"

    points = " ".join(xy(s) for s in samples)
    return f"""<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"
 font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{pad}" y="20" font-size="14">Server RSS during the soak: {report.n:,} exceptions,
 {report.clients} clients (slope {report.rss_slope_mb_per_1000:+.2f} MB / 1,000)</text>
<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="black"/>
<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="black"/>
<text x="{pad}" y="{height - pad + 18}">0</text>
<text x="{width - pad}" y="{height - pad + 18}" text-anchor="end">{max_x:,} exceptions</text>
<text x="{pad - 5}" y="{height - pad}" text-anchor="end">{lo:.0f} MB</text>
<text x="{pad - 5}" y="{pad + 4}" text-anchor="end">{hi:.0f} MB</text>
<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="{points}"/>
</svg>
"""


def write_outputs(report: SoakReport, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "soak.json").write_text(json.dumps(report.summary(), indent=2) + "\n")
    (out / "soak-rss.svg").write_text(chart_svg(report))
    (out / "soak-rss.csv").write_text(
        "seconds,done,rss_mb\n"
        + "".join(f"{s.t:.2f},{s.done},{s.rss_mb:.1f}\n" for s in report.samples)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.soak", description=__doc__)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--orders", type=int, default=None)
    parser.add_argument("--db", default=None)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    return soak_command(args.n, args.clients, args.orders, args.db, args.out, args.json)


def soak_command(
    n: int, clients: int, orders: int | None, db: str | None, out: Path | None, json_out: bool
) -> int:
    """What `execlayer eval soak` runs: 0 when the soak passed, 1 when it found a problem,
    2 when it could not run."""
    console = Console(stderr=True)
    try:
        report = run_soak(n, clients, orders=orders, db_url=db, console=console)
    except SoakError as exc:
        console.print(f"[bold red]execlayer eval soak:[/] {exc}")
        return 2
    if out is not None:
        write_outputs(report, out)
    if json_out:
        print(json.dumps(report.summary(), indent=2))
    else:
        render(report, Console())
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
