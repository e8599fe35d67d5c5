"""Telegram updates as the bot receives them: any message (any chat type, text, language code,
ids) is either ignored or answered, and never raises."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from telegram import Update

from refuge.alerts.models import Checkin
from refuge.intake import telegram
from tests.fuzz.conftest import FUZZ, hostile_text

ids = st.integers(min_value=-(2**52), max_value=2**52)
user = st.fixed_dictionaries(
    {"id": ids, "is_bot": st.booleans(), "first_name": st.text(max_size=20)},
    optional={"language_code": st.one_of(st.none(), st.text(max_size=12))},
)
message = st.fixed_dictionaries(
    {
        "message_id": ids,
        "date": st.integers(min_value=0, max_value=2**31),
        "chat": st.fixed_dictionaries(
            {"id": ids, "type": st.sampled_from(["private", "group", "supergroup", "channel"])}
        ),
    },
    optional={"text": hostile_text, "from": user},
)
update = st.fixed_dictionaries({"update_id": ids}, optional={"message": message})


@pytest.mark.django_db
@FUZZ
@given(data=update)
def test_any_update_is_ignored_or_answered(cast, data):
    incoming = telegram.incoming(Update.de_json(data, None))
    if incoming is None:
        assert data.get("message", {}).get("chat", {}).get("type") != "private" or (
            "text" not in data.get("message", {})
        )
        return
    reply = telegram.reply_to(incoming)
    assert reply is None or isinstance(reply, str)
    assert not Checkin.objects.exists()  # nobody bound this chat
