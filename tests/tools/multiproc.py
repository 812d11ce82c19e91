"""Run a function in several real OS processes at once and collect what each returned.

Forked (not spawned) so that children start in milliseconds; each child must open its own
store/engine and never touch one inherited from the parent (children leave with os._exit,
so inherited connections are neither used nor closed)."""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable, Sequence
from typing import Any


def _child(target: Callable[..., Any], args: tuple[Any, ...], index: int, out: Any) -> None:
    try:
        out.put((index, True, target(*args)))
    except BaseException:
        out.put((index, False, traceback.format_exc()))


def run_in_processes(
    target: Callable[..., Any], arg_lists: Sequence[tuple[Any, ...]], timeout: float = 120.0
) -> list[Any]:
    """`target(*args)` in one process per entry of `arg_lists`, all started together; the
    results in the same order. A child's exception fails the caller with its traceback."""
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_child, args=(target, args, i, out)) for i, args in enumerate(arg_lists)
    ]
    for proc in procs:
        proc.start()
    results: dict[int, Any] = {}
    failures: list[str] = []
    for _ in procs:
        index, ok, value = out.get(timeout=timeout)
        if ok:
            results[index] = value
        else:
            failures.append(value)
    for proc in procs:
        proc.join(timeout=timeout)
    if failures:
        raise AssertionError("a child process failed:\n" + "\n".join(failures))
    return [results[i] for i in range(len(procs))]
