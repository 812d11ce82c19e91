"""Reading YAML so that every value keeps its place in the file (line and column).

Two things the plain `yaml.safe_load` gets wrong for an operating policy:

- YAML 1.1 reads `off`, `on`, `yes`, `no` as booleans, so `autonomy: off` would arrive as
  `False`. `PolicyLoader` resolves only `true`/`false` as booleans (the YAML 1.2 core schema);
  `off` stays the string "off" (and pydantic still reads "yes"/"no" as booleans where a field
  is a boolean).
- Duplicate keys silently keep the last value. `duplicate_keys` finds them.

`locate(root, loc)` maps a pydantic error location (a tuple of keys and indexes) back to the
YAML node it refers to, so an error can say `policy.yaml:7:5`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

BOOL_TAG = "tag:yaml.org,2002:bool"


class PolicyLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans (only true/false)."""


PolicyLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
PolicyLoader.add_implicit_resolver(
    BOOL_TAG,
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


@dataclass(frozen=True, slots=True)
class Place:
    """A position in the text, 1-based, as editors show it."""

    line: int
    column: int


def place_of(node: Node) -> Place:
    return Place(node.start_mark.line + 1, node.start_mark.column + 1)


def compose(text: str) -> Node | None:
    """The YAML node tree (None for an empty document). Raises `yaml.YAMLError`."""
    return yaml.compose(text, Loader=PolicyLoader)


def construct(text: str) -> Any:
    """Plain Python data of the document. Raises `yaml.YAMLError`."""
    return yaml.load(text, Loader=PolicyLoader)  # noqa: S506 - PolicyLoader is a SafeLoader


def _key_text(node: Node) -> str:
    return str(node.value) if isinstance(node, ScalarNode) else ""


def _walk_mappings(node: Node, path: str, seen: set[int]) -> Iterator[tuple[MappingNode, str]]:
    if id(node) in seen:  # aliases may point back at a node already walked
        return
    seen.add(id(node))
    if isinstance(node, MappingNode):
        yield node, path
        for key, value in node.value:
            yield from _walk_mappings(
                value, f"{path}.{_key_text(key)}" if path else _key_text(key), seen
            )
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            yield from _walk_mappings(item, f"{path}[{i}]", seen)


def duplicate_keys(root: Node) -> list[tuple[str, Place, Place]]:
    """Every key written twice in one mapping: (path, first place, repeated place)."""
    found: list[tuple[str, Place, Place]] = []
    for mapping, path in _walk_mappings(root, "", set()):
        first: dict[str, Node] = {}
        for key, _ in mapping.value:
            text = _key_text(key)
            if text in first:
                found.append(
                    (f"{path}.{text}" if path else text, place_of(first[text]), place_of(key))
                )
            else:
                first[text] = key
    return found


def _entry(mapping: MappingNode, key: str) -> tuple[Node, Node] | None:
    """The (key node, value node) of `key`; the last one wins, as in the loaded data."""
    found = None
    for key_node, value_node in mapping.value:
        if _key_text(key_node) == key:
            found = (key_node, value_node)
    return found


def locate(root: Node | None, loc: tuple[int | str, ...], *, at_key: bool = False) -> Node | None:
    """The deepest node of `root` that `loc` (a pydantic error location) reaches.

    With `at_key`, a location ending at a mapping entry points at the entry's key (used for
    unknown keys); otherwise at its value. Location parts that are not keys or indexes of the
    document (pydantic's union branch names, `[key]` markers) are skipped.
    """
    node = root
    key_node: Node | None = None
    for part in loc:
        if node is None:
            return None
        if part == "[key]":
            return key_node or node
        if isinstance(node, MappingNode):
            entry = _entry(node, str(part))
            if entry is None:
                continue
            key_node, node = entry
        elif isinstance(node, SequenceNode) and isinstance(part, int):
            if 0 <= part < len(node.value):
                key_node, node = None, node.value[part]
            else:
                return node
        else:
            continue
    if at_key and key_node is not None:
        return key_node
    return node
