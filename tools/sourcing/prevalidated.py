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

_IMMUTABLE = (type(None), bool, int, float, str, tuple, frozenset)
_REQUIRED = object()  # the template's placeholder of a field without a default
_set = object.__setattr__


class _Shape:
    """A model's fields: every one in order with its default (`_REQUIRED` if none), the
    required ones, and those whose default comes from a factory."""

    def __init__(self, cls: type[BaseModel]) -> None:
        self.template: dict[str, Any] = {}
        self.required: list[str] = []
        self.factories: list[tuple[str, Callable[[], Any]]] = []
        for name, info in cls.model_fields.items():
            factory = info.default_factory
            if info.is_required():
                self.template[name] = _REQUIRED
                self.required.append(name)
            elif factory is not None:
                self.template[name] = _REQUIRED
                self.factories.append((name, factory))  # type: ignore[arg-type]
            elif isinstance(info.default, _IMMUTABLE):
                self.template[name] = info.default
            else:
                raise TypeError(f"{cls.__name__}.{name}: a mutable default needs validation")
        self.names = frozenset(self.template)


_SHAPES: dict[type[BaseModel], _Shape] = {}


def build(cls: type[Model], **values: Any) -> Model:
    """`cls(**values)` for values already valid as they are, without validating them."""
    shape = _SHAPES.get(cls)
    if shape is None:
        shape = _SHAPES[cls] = _Shape(cls)
    if not shape.names.issuperset(values):
        raise TypeError(f"{cls.__name__} has no field {sorted(set(values) - shape.names)}")
    data = shape.template.copy()  # the fields in their order, as validation writes them
    data.update(values)
    for name in shape.required:
        if name not in values:
            raise TypeError(f"{cls.__name__} needs {name}")
    for name, factory in shape.factories:
        if name not in values:
            data[name] = factory()
    made = cls.__new__(cls)
    _set(made, "__dict__", data)
    _set(made, "__pydantic_fields_set__", set(values))
    _set(made, "__pydantic_extra__", None)
    _set(made, "__pydantic_private__", None)
    return made
