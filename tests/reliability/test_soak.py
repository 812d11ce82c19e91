"""The soak in its reduced CI form: 200 exceptions through `execlayer serve` on loopback from
4 concurrent clients. The full run is `execlayer eval soak --n 10000 --clients 8`."""

from __future__ import annotations

import os
from pathlib import Path

from rich.console import Console

from evals.soak import render, run_soak, write_outputs

N = int(os.environ.get("EXECLAYER_SOAK_N", "200"))


def test_soak_loses_nothing_duplicates_nothing_and_errs_never(tmp_path: Path) -> None:
    report = run_soak(N, 4, workdir=tmp_path / "soak", show_progress=False)
    render(report, Console(width=100))
    write_outputs(report, tmp_path / "out")
    assert report.errors == []
    assert report.http_codes == {"200": N + report.duplicates_sent} or set(report.http_codes) <= {
        "200",
        "202",
    }
    assert report.decisions_in_store == report.exceptions_in_store == N
    assert report.lost == [] and report.duplicated == []
    assert report.duplicates_sent > 0 and report.duplicate_answers_differing == 0
    assert report.double_applied == 0 and report.stray_holds == 0
    assert report.ok
    # Memory: a bound, not a benchmark (the full soak reports the slope): the server must
    # not grow by more than 150 MB over a few hundred exceptions.
    assert report.rss_peak_mb - report.rss_start_mb < 150, report.summary()
    assert (tmp_path / "out" / "soak-rss.svg").read_text().startswith("<svg")
