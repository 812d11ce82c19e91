"""`json_text`, the JSON columns' encoder: what `json.dumps` writes, faster."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tools.store.engine import json_text

scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text()
floats = st.floats(allow_nan=False)  # infinities included: json.dumps writes Infinity
values = st.recursive(
    scalars | floats,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(values)
def test_reads_back_as_json_dumps_does(value: Any) -> None:
    assert json.loads(json_text(value)) == json.loads(json.dumps(value))


def test_infinities_and_non_string_keys_as_json_dumps() -> None:
    value = {"share": math.inf, "low": -math.inf, 3: "three"}
    assert json.loads(json_text(value)) == {"share": math.inf, "low": -math.inf, "3": "three"}
