"""Pydantic models built from values that already have their fields' types, unvalidated.

Candidate generation builds its output models (`Candidate`, `Action`, `ActionLine`, ...) from
numbers and ids it has just computed from a validated view: validating them again field by
field is most of their cost. `build(cls, **values)` makes the instance `cls(**values)` would
make (defaults filled in, the given names as the fields set) without validating. Use it only
for values validation would leave as they are (a float for a float field, a model instance
for a model field); a test holds the candidates equal to their validated copies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel

Model = TypeVar("Model", bound=BaseModel)

# A field's name, its default, and its default factory (None: the default itself is used).
_Field = tuple[str, Any, Callable[[], Any] | None]
_IMMUTABLE = (type(None), bool, int, float, str, tuple, frozenset)
_FIELDS: dict[type[BaseModel], tuple[tuple[_Field, ...], frozenset[str]]] = {}
_set = object.__setattr__
_REQUIRED = object()


def _fields_of(cls: type[BaseModel]) -> tuple[tuple[_Field, ...], frozenset[str]]:
    found: list[_Field] = []
    for name, info in cls.model_fields.items():
        factory = info.default_factory
        if info.is_required():
            found.append((name, _REQUIRED, None))
            continue
        if factory is None and not isinstance(info.default, _IMMUTABLE):
            raise TypeError(f"{cls.__name__}.{name}: a mutable default needs validation")
        found.append((name, info.default, factory))  # type: ignore[arg-type]
    fields = (tuple(found), frozenset(cls.model_fields))
    _FIELDS[cls] = fields
    return fields


def build(cls: type[Model], **values: Any) -> Model:
    """`cls(**values)` for values already valid as they are, without validating them."""
    fields, names = _FIELDS.get(cls) or _fields_of(cls)
    if not names.issuperset(values):
        raise TypeError(f"{cls.__name__} has no field {sorted(set(values) - names)}")
    data: dict[str, Any] = {}
    for name, default, factory in fields:
        if name in values:
            data[name] = values[name]
        elif default is _REQUIRED:
            raise TypeError(f"{cls.__name__} needs {name}")
        else:
            data[name] = default if factory is None else factory()
    made = cls.__new__(cls)
    _set(made, "__dict__", data)
    _set(made, "__pydantic_fields_set__", set(values))
    _set(made, "__pydantic_extra__", None)
    _set(made, "__pydantic_private__", None)
    return made
