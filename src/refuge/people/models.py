"""Protected people and their relatives at risk.

Tiers (security design b.2): pseudonym, risk and languages are T0 (plain, needed while sealed);
names, birth date, phones and messenger handles are T1 under the record key; addresses are T2
under a separate location key; notes are T3 under the record key.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from refuge.core.models import UUIDModel
from refuge.security.fields import DataKeyField, EncryptedDateField, EncryptedTextField
from refuge.security.models import DataKey


class RiskLevel(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


RISK_ORDER = {RiskLevel.LOW: 0, RiskLevel.MEDIUM: 1, RiskLevel.HIGH: 2, RiskLevel.CRITICAL: 3}


class Language(models.TextChoices):
    RU = "ru", _("Russian")
    EN = "en", _("English")
    CE = "ce", _("Chechen")
    OTHER = "other", _("Other")


class ProtectedPerson(UUIDModel):
    pseudonym = models.CharField(_("pseudonym"), max_length=40, unique=True)
    risk_level = models.CharField(
        _("risk level"), max_length=10, choices=RiskLevel.choices, default=RiskLevel.HIGH
    )
    # Comma-separated Language codes, e.g. "ru,ce".
    languages = models.CharField(_("languages"), max_length=50, default="ru")
    # Derived from the encrypted birth date by the people services; kept plain so the stricter
    # rules for minors apply even to staff who cannot read the birth date.
    is_minor = models.BooleanField(_("minor"), default=False)
    created_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    # The team a person was recorded for. While the person is on no case, this team sees them
    # (and, on the usual terms, their identity) so that it can put them on a case; from then on
    # only the cases decide (refuge.cases.access).
    intake_team = models.ForeignKey(
        "accounts.Team",
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("recorded for team"),
    )

    data_key = DataKeyField()
    location_key = DataKeyField(purpose=DataKey.Purpose.LOCATION)
    legal_name = EncryptedTextField(_("legal name"))
    aliases = EncryptedTextField(_("other names"))
    date_of_birth = EncryptedDateField(_("date of birth"))
    phones = EncryptedTextField(_("phone numbers"))
    messengers = EncryptedTextField(_("messenger handles"))
    address = EncryptedTextField(_("address"), key_field="location_key")
    notes = EncryptedTextField(_("notes"))

    objects: ClassVar[models.Manager[ProtectedPerson]]

    class Meta:
        ordering = ("pseudonym",)
        verbose_name = _("protected person")
        verbose_name_plural = _("protected people")

    def __str__(self) -> str:
        return self.pseudonym

    @property
    def language_list(self) -> list[str]:
        return [code for code in self.languages.split(",") if code]


class Relative(UUIDModel):
    """A relative or contact exposed to reprisals ("shared responsibility")."""

    class Relation(models.TextChoices):
        MOTHER = "mother", _("Mother")
        FATHER = "father", _("Father")
        SIBLING = "sibling", _("Brother or sister")
        SPOUSE = "spouse", _("Spouse or partner")
        CHILD = "child", _("Child")
        OTHER_RELATIVE = "other_relative", _("Other relative")
        CONTACT = "contact", _("Contact")

    person = models.ForeignKey(ProtectedPerson, on_delete=models.CASCADE, related_name="relatives")
    relation = models.CharField(_("relation"), max_length=20, choices=Relation.choices)
    risk_level = models.CharField(
        _("risk level"), max_length=10, choices=RiskLevel.choices, default=RiskLevel.MEDIUM
    )

    data_key = DataKeyField()
    location_key = DataKeyField(purpose=DataKey.Purpose.LOCATION)
    name = EncryptedTextField(_("name"))
    phones = EncryptedTextField(_("phone numbers"))
    location = EncryptedTextField(_("where they live"), key_field="location_key")
    notes = EncryptedTextField(_("notes"))

    objects: ClassVar[models.Manager[Relative]]

    class Meta:
        ordering = ("created_at",)
        verbose_name = _("relative at risk")
        verbose_name_plural = _("relatives at risk")

    def __str__(self) -> str:
        return f"{self.get_relation_display()} of {self.person}"


class ContactChannel(models.TextChoices):
    PHONE = "phone", _("Phone call")
    IN_PERSON = "in_person", _("In person")
    MESSENGER = "messenger", _("Messenger")
    SMS = "sms", _("Text message")
    EMAIL = "email", _("E-mail")
    VIA_LAWYER = "via_lawyer", _("Through a lawyer")
    VIA_THIRD_PARTY = "via_third_party", _("Through someone else")
    OTHER = "other", _("Other")


class ContactDirection(models.TextChoices):
    OUTGOING = "outgoing", _("We contacted them")
    INCOMING = "incoming", _("They contacted us")


class RelativeContact(UUIDModel):
    """One contact with a relative at risk: when, how, who on staff, which way, what was said
    (encrypted like other notes), and whether someone must follow it up.

    The log is additive: entries are never edited, only their follow-up flag is cleared. The
    legal response reads it too (relatives threatened with collective punishment)."""

    relative = models.ForeignKey(Relative, on_delete=models.CASCADE, related_name="contacts")
    occurred_at = models.DateTimeField(_("date and time of the contact"))
    channel = models.CharField(_("channel"), max_length=20, choices=ContactChannel.choices)
    direction = models.CharField(_("direction"), max_length=10, choices=ContactDirection.choices)
    # Who on staff spoke with the relative (often, not always, whoever records it).
    staff = models.ForeignKey(
        "accounts.User",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("staff member"),
    )
    recorded_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    follow_up_needed = models.BooleanField(_("follow-up needed"), default=False)

    data_key = DataKeyField()
    summary = EncryptedTextField(_("summary"))

    objects: ClassVar[models.Manager[RelativeContact]]

    class Meta:
        ordering = ("-occurred_at", "-created_at")
        verbose_name = _("contact with a relative")
        verbose_name_plural = _("contacts with relatives")
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["relative", "-occurred_at"], name="people_contact_relative_time"),
        ]

    def __str__(self) -> str:
        return f"contact with {self.relative_id}"


class BlindIndexEntry(models.Model):
    """One blind index value of a person (security design b.5; refuge.people.blind_index).

    One table for both kinds, one row per phone number and one for the legal name, so a person
    with several phones gets several rows. `value` is the hex of the first `bits` bits of a keyed
    BLAKE2b of the normalised input; `bits` is kept per row so a rebuild can change it."""

    class Kind(models.TextChoices):
        PHONE = "phone", _("Phone number")
        NAME = "name", _("Legal name")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    person = models.ForeignKey(
        ProtectedPerson, on_delete=models.CASCADE, related_name="blind_indexes"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    bits = models.PositiveSmallIntegerField()
    value = models.CharField(max_length=64)

    objects: ClassVar[models.Manager[BlindIndexEntry]]

    class Meta:
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["kind", "bits", "value"], name="people_bidx_lookup"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}/{self.bits}"
