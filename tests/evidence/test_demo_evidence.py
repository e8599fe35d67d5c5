"""Step 6 of the scenario in the demo: the apology video is evidence on FALCON's documentation
case, stored encrypted, and loading the demo again attaches it once only."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from refuge.cases.models import CaseType
from refuge.demo import scenario_evidence
from refuge.evidence import services
from refuge.evidence.models import EvidenceFile
from tests.evidence.conftest import sha256, stored_files

pytestmark = pytest.mark.django_db


@pytest.fixture
def loaded(settings, capsys):
    settings.DEMO_MODE = True
    call_command("demo", "--no-serve")
    capsys.readouterr()


def test_the_apology_video_is_on_falcons_documentation_case(loaded):
    evidence = EvidenceFile.objects.get()
    assert evidence.case.case_type == CaseType.DOCUMENTATION
    assert evidence.case.people.filter(pseudonym="FALCON").exists()
    assert evidence.original_name == scenario_evidence.APOLOGY_VIDEO_NAME
    assert evidence.media_type == "video/mp4"


def test_the_apology_video_keeps_the_hash_of_the_generated_bytes(loaded):
    expected = sha256(b"".join(scenario_evidence.fake_video()))
    assert EvidenceFile.objects.get().sha256 == expected
    assert services.integrity_problem(EvidenceFile.objects.get()) == ""


def test_the_apology_video_is_stored_encrypted(loaded, evidence_dir):
    (stored,) = stored_files(evidence_dir)
    assert b"ftypmp42" not in stored.read_bytes()


def test_loading_the_demo_again_attaches_it_once(loaded, capsys):
    call_command("demo", "--no-serve")
    assert EvidenceFile.objects.count() == 1
