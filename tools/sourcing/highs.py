"""HiGHS instances configured for the sourcing tools: silent, one thread, fixed seed.

HiGHS prints a copyright banner on standard output when the first instance of a process is
created, from C++ and so past `sys.stdout`. That would corrupt machine-readable output
(`execlayer eval gap --json`), so the first construction runs with file descriptor 1 pointed at
/dev/null.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping

import highspy

_banner_lock = threading.Lock()
_banner_state = {"shown": False}

INF = highspy.kHighsInf


def _construct_quietly() -> highspy.Highs:
    with _banner_lock:
        if _banner_state["shown"]:
            return highspy.Highs()
        sys.stdout.flush()
        saved = os.dup(1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            highs = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)
        _banner_state["shown"] = True
        return highs


def new_highs(options: Mapping[str, bool | int | float | str] | None = None) -> highspy.Highs:
    """A silent single-threaded HiGHS with a fixed random seed, plus `options`."""
    highs = _construct_quietly()
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("log_to_console", False)
    highs.setOptionValue("threads", 1)
    highs.setOptionValue("random_seed", 0)
    for name, value in (options or {}).items():
        highs.setOptionValue(name, value)
    return highs
