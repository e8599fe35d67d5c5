"""What an export contains: redacted exports carry no identity; unredacted ones carry exactly
what the requester may reveal, and never a record outside their need-to-know."""

from __future__ import annotations

import csv
import io

import pytest

from refuge.accounts.models import TeamMembership
from refuge.exports import formats, selectors, services
from refuge.exports.api.schemas import RedactedExportOut, UnredactedExportOut
from tests.conftest import (
    BIRCH_NAME,
    BIRCH_PHONE,
    FALCON_NAME,
    FALCON_PHONE,
    FLAT_ADDRESS,
    MOTHER_NAME,
)
from tests.exports.conftest import (
    HERON_NAME,
    NOTE_SECRET,
    SUMMARY_SECRET,
    TASK_SECRET,
    approved_export,
    streamed,
)

pytestmark = pytest.mark.django_db

IDENTITY_SECRETS = (FALCON_NAME, FALCON_PHONE, BIRCH_NAME, BIRCH_PHONE, FLAT_ADDRESS, MOTHER_NAME)
NARRATIVE_SECRETS = (SUMMARY_SECRET, NOTE_SECRET, TASK_SECRET)


def redacted(actor, fmt="json", **scope) -> str:
    plan = services.redacted_export_start(actor=actor, fmt=fmt, **scope)
    header = formats.export_header(kind="redacted", actor=actor, case_count=len(plan.case_ids))
    records = selectors.iter_redacted_cases(actor=actor, plan=plan)
    response = formats.streaming_response(kind="redacted", fmt=fmt, header=header, records=records)
    return streamed(response).decode("utf-8")


def unredacted(request, fmt="json") -> str:
    actor = request.requested_by
    plan = services.export_request_download_start(actor=actor, request=request, fmt=fmt)
    header = formats.export_header(kind="unredacted", actor=actor, case_count=len(plan.case_ids))
    records = selectors.iter_unredacted_cases(actor=actor, plan=plan)
    response = formats.streaming_response(
        kind="unredacted", fmt=fmt, header=header, records=records
    )
    return streamed(response).decode("utf-8")


@pytest.mark.usefixtures("narrative", "other_case")
@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_a_redacted_export_contains_no_identity_and_no_narrative(cast, fmt):
    body = redacted(cast.coordinator, fmt=fmt)

    for secret in (*IDENTITY_SECRETS, *NARRATIVE_SECRETS, HERON_NAME):
        assert secret not in body
    assert "FALCON" in body
    assert "HERON" in body


@pytest.mark.usefixtures("narrative")
def test_a_redacted_export_counts_the_timeline_and_tasks(cast):
    document = RedactedExportOut.model_validate_json(redacted(cast.caseworker))

    (case,) = document.cases
    assert case.code == cast.case.code
    assert (case.timeline_entries, case.tasks_open, case.tasks_done) == (1, 1, 0)
    assert [p.pseudonym for p in case.people] == ["BIRCH", "FALCON"]


@pytest.mark.usefixtures("other_case")
def test_a_redacted_export_holds_only_the_cases_one_may_see(cast):
    document = RedactedExportOut.model_validate_json(redacted(cast.outsider))

    assert [c.people[0].pseudonym for c in document.cases] == ["HERON"]


def test_a_redacted_export_of_listed_cases_holds_only_those(cast, other_case):
    document = RedactedExportOut.model_validate_json(redacted(cast.coordinator, cases=[other_case]))

    assert [c.code for c in document.cases] == [other_case.code]


def test_an_admin_has_nothing_to_export(cast):
    from refuge.core.errors import DomainError

    with pytest.raises(DomainError):
        services.redacted_export_start(actor=cast.admin)


@pytest.mark.usefixtures("narrative", "other_case")
def test_the_team_lead_gets_every_identity_and_the_narrative(cast, nizhny):
    body = unredacted(approved_export(cast.caseworker, cast.coordinator, nizhny))

    for secret in (*IDENTITY_SECRETS, *NARRATIVE_SECRETS):
        assert secret in body
    assert HERON_NAME not in body


@pytest.mark.usefixtures("narrative")
def test_a_non_lead_gets_no_minor_identity(cast, nizhny):
    document = UnredactedExportOut.model_validate_json(
        unredacted(approved_export(cast.lawyer, cast.coordinator, nizhny))
    )

    people = {p.pseudonym: p for p in document.cases[0].people}
    assert people["FALCON"].identity is not None
    assert people["FALCON"].identity.legal_name == FALCON_NAME
    assert [r.name for r in people["FALCON"].relatives] == [MOTHER_NAME]
    assert people["BIRCH"].identity is None
    assert people["BIRCH"].relatives == []


def test_a_non_leads_file_never_holds_the_minors_secrets(cast, nizhny):
    body = unredacted(approved_export(cast.lawyer, cast.coordinator, nizhny), fmt="csv")

    assert FALCON_NAME in body
    assert BIRCH_NAME not in body
    assert BIRCH_PHONE not in body


@pytest.mark.usefixtures("other_case")
def test_a_coordinators_team_export_holds_only_that_team(cast, nizhny, coordinator2):
    document = UnredactedExportOut.model_validate_json(
        unredacted(approved_export(cast.coordinator, coordinator2, nizhny))
    )

    assert [c.code for c in document.cases] == [cast.case.code]


def test_a_listed_cases_export_holds_only_those(cast, other_case, coordinator2):
    request = services.export_request_create(
        actor=cast.coordinator, purpose="Court", cases=[other_case]
    )
    services.export_request_approve(actor=coordinator2, request=request)

    body = unredacted(request)

    assert HERON_NAME in body
    assert FALCON_NAME not in body


def test_access_lost_after_approval_is_respected_at_download(cast, nizhny):
    request = approved_export(cast.lawyer, cast.coordinator, nizhny)
    TeamMembership.objects.filter(user=cast.lawyer).delete()

    document = UnredactedExportOut.model_validate_json(unredacted(request))

    assert document.cases == []


def test_the_json_file_matches_the_documented_schema(cast, nizhny, narrative):
    document = UnredactedExportOut.model_validate_json(
        unredacted(approved_export(cast.caseworker, cast.coordinator, nizhny))
    )

    assert document.export.kind == "unredacted"
    assert document.export.case_count == 1
    assert document.cases[0].summary == SUMMARY_SECRET
    assert [t.title for t in document.cases[0].tasks] == [TASK_SECRET]


def test_csv_cells_cannot_run_as_spreadsheet_formulas(cast, nizhny):
    rows = list(
        csv.DictReader(
            io.StringIO(
                unredacted(approved_export(cast.caseworker, cast.coordinator, nizhny), fmt="csv")
            )
        )
    )

    assert sorted(row["phones"] for row in rows) == ["'" + FALCON_PHONE, "'" + BIRCH_PHONE]


def test_a_csv_has_one_row_per_person_on_a_case(cast):
    rows = list(csv.reader(io.StringIO(redacted(cast.caseworker, fmt="csv"))))

    assert rows[0][0] == "\ufeffcode"
    assert sorted(row[10] for row in rows[1:]) == ["BIRCH", "FALCON"]


CONTACT_SECRET = "Mother says police came to the house twice"


@pytest.fixture
def mother_contact(cast):
    from refuge.people.models import ContactChannel, ContactDirection, Relative
    from refuge.people.services import contacts

    mother = Relative.objects.get(person=cast.falcon)
    return contacts.relative_contact_log(
        actor=cast.caseworker,
        relative=mother,
        occurred_at=cast.case.created_at,
        channel=ContactChannel.PHONE,
        direction=ContactDirection.INCOMING,
        staff=cast.caseworker,
        summary=CONTACT_SECRET,
        follow_up_needed=True,
    )


def test_an_unredacted_export_carries_the_log_of_contacts_with_relatives(
    cast, nizhny, mother_contact
):
    document = UnredactedExportOut.model_validate_json(
        unredacted(approved_export(cast.caseworker, cast.coordinator, nizhny))
    )

    people = {p.pseudonym: p for p in document.cases[0].people}
    (mother,) = people["FALCON"].relatives
    (contact,) = mother.contacts
    assert contact.summary == CONTACT_SECRET
    assert (contact.channel, contact.direction) == ("phone", "incoming")
    assert contact.staff == cast.caseworker.username
    assert contact.follow_up_needed


def test_an_unredacted_csv_has_a_column_of_contacts_with_relatives(cast, nizhny, mother_contact):
    body = unredacted(approved_export(cast.caseworker, cast.coordinator, nizhny), fmt="csv")

    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    falcon = next(row for row in rows if row["pseudonym"] == "FALCON")
    assert CONTACT_SECRET in falcon["relative_contacts"]
    assert MOTHER_NAME in falcon["relative_contacts"]
    assert "follow-up needed" in falcon["relative_contacts"]


def test_a_redacted_export_never_holds_a_contact_with_a_relative(cast, mother_contact):
    for fmt in ("json", "csv"):
        assert CONTACT_SECRET not in redacted(cast.coordinator, fmt=fmt)
