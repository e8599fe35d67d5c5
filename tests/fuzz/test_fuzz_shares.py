"""Unseal-key shares as holders type them (security.shares): any text is a share or a
ShareError that names the problem, and no single-character mistake in a real share is taken
for another share."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from refuge.security import shares
from tests.fuzz.conftest import FUZZ, hostile_text

KEY = bytes(range(32))
REAL = shares.split(KEY, threshold=3, total=5, instance_id="0123abcd")[0].text()
SHARE_ALPHABET = string.ascii_letters + string.digits + ":/-=+,é\u0400 \n"

share_like = st.one_of(
    hostile_text,
    st.text(alphabet=SHARE_ALPHABET, max_size=120).map(lambda t: "refuge-share:v1:" + t),
    st.text(alphabet=SHARE_ALPHABET, max_size=160).map(lambda t: "refuge-share-locked:v1:" + t),
    st.builds(
        lambda i, x, k, n, p, c: f"refuge-share:v1:{i}:{x}:{k}/{n}:{p}:{c}",
        st.from_regex(r"[0-9a-f]{8}", fullmatch=True),
        st.integers(0, 999),
        st.integers(0, 999),
        st.integers(0, 999),
        st.from_regex(r"[A-Z2-7]{0,60}", fullmatch=True),
        st.from_regex(r"[0-9a-f]{8}", fullmatch=True),
    ),
)


@FUZZ
@given(text=share_like, passphrase=st.one_of(st.none(), st.text(max_size=20)))
def test_any_text_is_a_share_or_a_named_error(text, passphrase):
    assert _outcome(text, passphrase)


def _outcome(text: str, passphrase: str | None) -> str:
    """The error's message, or "accepted" for a share that reads back as the text typed."""
    try:
        share = shares.read(text, passphrase)
    except shares.ShareError as error:
        return str(error)
    assert share.text() == "".join(text.split())
    return "accepted"


@FUZZ
@given(position=st.integers(0, len(REAL) - 1), replacement=st.characters(codec="utf-8"))
def test_a_mistyped_character_is_never_taken_for_a_share(position, replacement):
    typo = REAL[:position] + replacement + REAL[position + 1 :]
    try:
        share = shares.read(typo)
    except shares.ShareError:
        return
    assert share.text() == REAL  # only a harmless change (a space, the checksum's case) passes
