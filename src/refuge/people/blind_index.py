"""Blind indexes on the legal name and phone numbers of protected people (security design b.5).

A value is `trunc_L(BLAKE2b-keyed(key("people.<kind>"), normalised input))`, stored as hex in
`BlindIndexEntry`, one row per phone number and one per legal name. L is chosen from the number R
of rows of that kind so that the expected number of other rows sharing a bucket stays inside
CipherSweet's budget, 2 <= C < sqrt(R) with C = R / 2^min(L, K):

    L = clamp(floor(log2 R) - 1, 1, min(K, 32))   ->   2 <= C < 4 once R >= 4

(K is the input space: about 33 bits for Russian phone numbers, far more for names.) New rows
take the L already in use for their kind, so every row of a kind shares one L; `refuge bidx
rebuild` recomputes L for the current R and rewrites every row (it needs the master key).

The buckets are deliberately ambiguous: a search decrypts the few candidates the caller may see
and keeps the exact matches. Nothing here ever logs or stores an input in plain text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count

from refuge.people import normalise
from refuge.people.models import BlindIndexEntry, ProtectedPerson
from refuge.security import audit
from refuge.security.provider import get_crypto

Kind = BlindIndexEntry.Kind
# Size of the input space in bits (CipherSweet's K): Russian phone numbers ~10^10.
INPUT_BITS = {Kind.PHONE: 33, Kind.NAME: 256}
MAX_BITS = 32


def bits_for(rows: int, kind: str) -> int:
    """L for R = `rows` rows of `kind` (see the module docstring)."""
    wanted = math.floor(math.log2(rows)) - 1 if rows > 0 else 1
    return max(1, min(wanted, INPUT_BITS[Kind(kind)], MAX_BITS))


def expected_coincidences(rows: int, bits: int) -> float:
    """C = R / 2^L: how many rows share a bucket on average."""
    return math.ldexp(rows, -bits)


def bucket(kind: str, normalised: str, bits: int) -> str:
    return get_crypto().blind_index(f"people.{kind}", normalised, bits=bits).hex()


def value_of(person: ProtectedPerson, kind: str) -> list[str]:
    """The normalised inputs of one kind of a person (decrypts that field only)."""
    if kind == Kind.PHONE:
        return normalise.phones(person.phones)
    name = normalise.legal_name(person.legal_name)
    return [name] if name else []


def values_of(person: ProtectedPerson) -> dict[str, list[str]]:
    """The normalised inputs of a person, per kind."""
    return {kind: value_of(person, kind) for kind in Kind}


def bits_in_use(kind: str) -> list[int]:
    """The L values rows of `kind` carry (one, except during a rebuild), most rows first."""
    rows = (
        BlindIndexEntry.objects.filter(kind=kind)
        .values("bits")
        .annotate(n=Count("id"))
        .order_by("-n", "bits")
    )
    return [row["bits"] for row in rows]


def _bits_for_new(kind: str, extra: int) -> int:
    in_use = bits_in_use(kind)
    if in_use:
        return in_use[0]
    return bits_for(BlindIndexEntry.objects.filter(kind=kind).count() + extra, kind)


def person_index_refresh(person: ProtectedPerson) -> None:
    """Replace the person's rows; call inside the transaction that saved the person."""
    wanted = values_of(person)
    with transaction.atomic():
        BlindIndexEntry.objects.filter(person=person).delete()
        rows: list[BlindIndexEntry] = []
        for kind, values in wanted.items():
            if not values:
                continue
            bits = _bits_for_new(kind, len(values))
            rows.extend(
                BlindIndexEntry(person=person, kind=kind, bits=bits, value=bucket(kind, v, bits))
                for v in values
            )
        BlindIndexEntry.objects.bulk_create(rows)


@dataclass(frozen=True)
class RebuildResult:
    kind: str
    rows: int
    bits: int

    @property
    def coincidences(self) -> float:
        return expected_coincidences(self.rows, self.bits)


def rebuild(people: Iterable[ProtectedPerson]) -> list[RebuildResult]:
    """Recompute every row (of all `people`: the caller passes everyone) with the L for the
    current R; one transaction, audited. Run through services.blind_indexes_rebuild."""
    with transaction.atomic():
        values = [(person, values_of(person)) for person in people]
        results: list[RebuildResult] = []
        rows: list[BlindIndexEntry] = []
        for kind in Kind:
            count = sum(len(per_kind[kind]) for _person, per_kind in values)
            bits = bits_for(count, kind)
            results.append(RebuildResult(kind=kind.value, rows=count, bits=bits))
            rows.extend(
                BlindIndexEntry(person=person, kind=kind, bits=bits, value=bucket(kind, v, bits))
                for person, per_kind in values
                for v in per_kind[kind]
            )
        BlindIndexEntry.objects.all().delete()
        BlindIndexEntry.objects.bulk_create(rows, batch_size=1000)
        audit.record(
            "refuge.people.blind_index.rebuilt",
            actor=None,
            object_type="people.blindindexentry",
            detail={r.kind: {"rows": r.rows, "bits": r.bits} for r in results},
        )
    return results
