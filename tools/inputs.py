"""Reading contract documents from files and text, with errors that name the field.

Everything that enters from outside (a snapshot file, an event body, a replay case) passes
through here or through pydantic directly; a bad document raises `InputError` whose message
lists each problem as `path.to[3].field: what is wrong`, and nothing is written anywhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from tools.events import ExceptionEvent
from tools.network import NetworkSnapshot

M = TypeVar("M", bound=BaseModel)


class InputError(ValueError):
    """A document that does not match its contract. `problems` name the offending fields."""

    def __init__(self, what: str, problems: list[str]) -> None:
        self.what = what
        self.problems = problems
        super().__init__(f"invalid {what}: " + "; ".join(problems))


def field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(document)"


def describe(exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        problems.append(f"{field_path(loc)}: {err['msg']}")
    return problems


def parse(model: type[M], text: str | bytes, what: str) -> M:
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        raise InputError(what, describe(exc)) from None


def validate(model: type[M], data: object, what: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(what, describe(exc)) from None


def read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(what, [f"{path}: no such file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(what, [f"{path}: {exc}"]) from None


def load_snapshot(path: Path) -> NetworkSnapshot:
    return parse(NetworkSnapshot, read_text(path, "network snapshot"), "network snapshot")


def load_event(path: Path) -> ExceptionEvent:
    return parse(ExceptionEvent, read_text(path, "exception event"), "exception event")


def load_json(path: Path, what: str) -> object:
    try:
        return json.loads(read_text(path, what))
    except json.JSONDecodeError as exc:
        raise InputError(
            what, [f"{path}: line {exc.lineno} column {exc.colno}: {exc.msg}"]
        ) from None
