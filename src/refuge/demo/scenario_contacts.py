"""The demo's contact log with FALCON's mother (scenario.md step 7: relatives at risk of
collective punishment), written through the people services like everything else."""

from __future__ import annotations

import datetime as dt

from refuge.accounts.models import User
from refuge.people.models import ContactChannel, ContactDirection, Relative
from refuge.people.services import contacts


def mothers_contacts(
    *, caseworker: User, mother: Relative, evacuation: dt.datetime, call: dt.datetime
) -> None:
    """One contact before the evacuation, one the day after the emergency call."""
    entries = (
        (
            evacuation - dt.timedelta(days=3, hours=-7),
            ContactChannel.VIA_THIRD_PARTY,
            ContactDirection.INCOMING,
            "A neighbour passed on that the family is being watched since the escape.",
            False,
        ),
        (
            call + dt.timedelta(hours=19, minutes=30),
            ContactChannel.PHONE,
            ContactDirection.OUTGOING,
            (
                "Two men from the district police came asking where Rustam is. She is "
                "frightened but safe; she told them nothing."
            ),
            True,
        ),
    )
    for when, channel, direction, summary, follow_up in entries:
        contacts.relative_contact_log(
            actor=caseworker,
            relative=mother,
            occurred_at=when,
            channel=channel,
            direction=direction,
            summary=summary,
            follow_up_needed=follow_up,
        )
