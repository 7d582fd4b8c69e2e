"""The reading stage's shortcuts answer what the plain forms answered: recognition asks the
text in place what ``text[:limit].lstrip()`` was asked, and a reader handed the input's bytes
is handed exactly the text's UTF-8 (or nothing)."""

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mappers.readers import READERS, iter_document
from mappers.readers.base import head_start
from mappers.readers.ctgov_json import CtgovJson

_SPACE = st.sampled_from(
    [" ", "\t", "\n", "\x0b", "\x0c", "\x1c", "\x85", "\xa0", "\u2003", "\u3000", "\ufeff"]
)


@given(st.lists(_SPACE, max_size=12).map("".join), st.text(max_size=30), st.integers(0, 40))
def test_head_start_is_where_lstrip_begins(space, rest, limit):
    text = space + rest
    head = text[:limit].lstrip()
    at = head_start(text, limit)
    assert text[at:limit] == head


_EMPTY_PAGE = re.compile(r'^\{\s*"studies"\s*:\s*\[\s*\]')


def _as_head_did(layout: str, text: str) -> bool:
    """Each layout's recognition as it was written on a copy of the head."""
    head = text[:65536].lstrip()
    if layout == "ctgov-json-v1":
        return head.startswith("{") and '"FullStudiesResponse"' in head
    if layout == "ctgov-json-v2":
        return head.startswith("{") and ('"protocolSection"' in head or bool(_EMPTY_PAGE.match(head)))
    return head.startswith("<") and "<clinical_study" in head


@given(
    st.lists(_SPACE, max_size=6).map("".join),
    st.sampled_from(["{", "<", "x", ""]),
    st.sampled_from(
        ['"protocolSection"', '"FullStudiesResponse"', "<clinical_study", '"studies": [ ]', "", "{"]
    ),
    st.integers(0, 12),
    st.integers(0, 65540),
)
def test_recognition_reads_the_head_as_lstrip_did(space, first, mark, pad, spaces):
    for text in (space + first + " " * pad + mark + " }", " " * spaces + first + mark):
        for reader in READERS[:3]:  # the recognisers that read the head
            assert reader.recognises(text) == _as_head_did(reader.layout, text)


_RECORD = '{"protocolSection": {"identificationModule": {"nctId": "NCT01234567", "briefTitle": "%s"}}}'


@pytest.mark.parametrize(
    "data",
    [
        (_RECORD % "plain").encode(),
        (_RECORD % "caf\u00e9 \u00b1 5 \u00b5g").encode(),  # accented, NFC: left as it is
        b"\xef\xbb\xbf" + (_RECORD % "with a byte-order mark").encode(),
        (_RECORD % "line\\r\\nends").replace("{", "{\r\n", 1).encode(),
        (_RECORD % "moj\u00c3\u00a9bake").encode(),  # repaired
        (_RECORD % unicodedata.normalize("NFD", "cafe\u0301 decomposed")).encode(),  # NFC-normalised
        (_RECORD % "caf\u00e9").encode("latin-1"),
    ],
)
def test_a_reader_is_given_the_texts_own_bytes_or_none(data, monkeypatch):
    seen = []
    original = CtgovJson.read_encoded

    def spy(self, text, encoded, source):
        seen.append((text, encoded))
        return original(self, text, encoded, source)

    monkeypatch.setattr(CtgovJson, "read_encoded", spy)
    studies = list(iter_document(data, "record.json"))
    assert studies and len(seen) == 1
    text, encoded = seen[0]
    assert encoded is None or encoded == text.encode("utf-8")
    if data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")) or b"\r" in data:
        assert encoded is None
    elif text.encode("utf-8") == data:
        assert encoded is data


def test_a_leafs_whole_text_is_its_itertext():
    from lxml import etree

    from mappers.readers.ctgov_xml import _PARSER, _whole_text

    root = etree.fromstring(
        "<r><a>plain</a><a/><a>one <![CDATA[two]]> three</a><a>x<?pi y?>z</a><a>p<b>q</b>r</a>"
        "<a>  spaced \n lines </a><a><!-- gone --></a></r>",
        _PARSER(),
    )
    for element in root:
        assert _whole_text(element) == "".join(element.itertext())
