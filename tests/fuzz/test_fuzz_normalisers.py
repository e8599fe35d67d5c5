"""The normalisers of what people type (phone numbers, legal names, sender addresses): any input
gives a string or the one documented error, and normalising twice changes nothing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from refuge.alerts import pins
from refuge.people import normalise
from tests.fuzz.conftest import FUZZ, hostile_text

phoneish = st.one_of(
    hostile_text,
    st.from_regex(r"\+?[0-9 ()\-./]{0,30}", fullmatch=True),
    st.from_regex(r"(00|8|\+7|7)?9[0-9]{9}", fullmatch=True),
)


@FUZZ
@given(value=phoneish)
def test_a_phone_normalises_to_e164_digits_or_nothing(value):
    number = normalise.phone(value)
    assert number == "" or number.lstrip("+").isdigit()
    assert normalise.phone(number) == number


@FUZZ
@given(value=st.one_of(st.none(), hostile_text))
def test_a_phones_field_gives_distinct_normalised_numbers(value):
    numbers = normalise.phones(value)
    assert len(numbers) == len(set(numbers))
    assert all(n and normalise.phone(n) == n for n in numbers)


@FUZZ
@given(value=st.one_of(st.none(), hostile_text, st.text(alphabet="АБВабвЁёӀ -'’ʼ", max_size=40)))
def test_a_legal_name_normalises_idempotently(value):
    name = normalise.legal_name(value)
    assert normalise.legal_name(name) == name
    assert name == name.strip()


@FUZZ
@given(kind=st.sampled_from([pins.SENDER_SMS, pins.SENDER_TELEGRAM, "email", ""]), value=phoneish)
def test_a_sender_normalises_or_is_refused_with_a_sender_error(kind, value):
    try:
        canonical = pins.normalise_sender(kind, value)
    except pins.SenderError:
        return
    assert pins.normalise_sender(kind, canonical) == canonical
