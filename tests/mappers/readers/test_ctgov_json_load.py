"""ctgov_json.load_json parses with orjson where orjson and json agree, and with json elsewhere:
the document, or the rejection, is json's in every case."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mappers.readers import RejectedInput
from mappers.readers.ctgov_json import load_json


def _json_answer(text: str):
    try:
        return "value", repr(json.loads(text))
    except json.JSONDecodeError as exc:
        return "invalid", (exc.msg, exc.lineno, exc.colno)
    except ValueError as exc:
        return "unreadable", str(exc)
    except RecursionError:  # read_document's reader guard turns it into a rejection
        return "too deep", None


def _answer(text: str):
    try:
        return "value", repr(load_json(text))
    except RejectedInput as exc:
        return "rejected", exc.reason
    except RecursionError:
        return "too deep", None


def _same(text: str) -> None:
    kind, detail = _json_answer(text)
    got = _answer(text)
    if kind == "value":
        assert got == ("value", detail)
    elif kind == "invalid":
        msg, line, col = detail
        assert got == ("rejected", f"invalid or truncated JSON: {msg} at line {line}, column {col}")
    elif kind == "unreadable":
        assert got == ("rejected", f"unreadable JSON: {detail}")
    else:
        assert got == (kind, detail)


_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=500, deadline=None)
@given(_VALUES)
def test_load_json_is_jsons_on_any_value(value):
    _same(json.dumps(value))


@pytest.mark.parametrize(
    "text",
    [
        "[9223372036854775807, -9223372036854775808]",  # 64-bit: orjson's and json's alike
        "[9223372036854775808]",
        "[18446744073709551616]",  # past 64 bits: orjson would read a float
        "[-9223372036854775809]",
        '{"id": "NCT0000000100000000000"}',  # 19 digits in a string: json's, to the same end
        "[NaN, Infinity, -Infinity]",
        "[1e400]",
        '["\\ud800"]',  # a lone surrogate escape
        '{"a": 1, "a": 2}',
        "[" * 2000 + "]" * 2000,  # deeper than orjson goes
        "[1" + "0" * 5000 + "]",  # more digits than int() takes
        '{"a": 1',
        "[1,]",
        "\ufeff[1]",
    ],
)
def test_load_json_is_jsons_where_orjson_differs(text):
    _same(text)
