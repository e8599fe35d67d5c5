"""The share format and Shamir split/combine: each problem is named before combining."""

from __future__ import annotations

import itertools
import secrets

import pytest
from nacl import pwhash

from refuge.security import sealing
from refuge.security import shares as share_format
from refuge.security.shares import ShareError

INSTANCE = "0a1b2c3d"


@pytest.fixture
def unseal_key() -> bytes:
    return secrets.token_bytes(32)


@pytest.fixture
def issued(unseal_key: bytes) -> list[share_format.Share]:
    return share_format.split(unseal_key, threshold=3, total=5, instance_id=INSTANCE)


@pytest.fixture
def record(unseal_key: bytes, issued: list[share_format.Share]) -> sealing.SealRecord:
    import datetime as dt

    return sealing.SealRecord(
        instance_id=INSTANCE,
        threshold=3,
        shares=5,
        wrapped_root=sealing.wrap_root(unseal_key, b"R" * 32, INSTANCE),
        share_hashes={s.index: s.payload_hash() for s in issued},
        intake_public_key=b"\0" * 32,
        created_at=dt.datetime(2026, 11, 25, tzinfo=dt.UTC),
    )


@pytest.fixture
def fast_passphrases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(share_format, "PASSPHRASE_OPSLIMIT", pwhash.argon2id.OPSLIMIT_MIN)
    monkeypatch.setattr(share_format, "PASSPHRASE_MEMLIMIT", pwhash.argon2id.MEMLIMIT_MIN)


def test_a_share_survives_its_text_form(issued):
    assert [share_format.parse(s.text()) for s in issued] == issued


def test_the_text_form_has_instance_index_threshold_and_checksum(issued):
    parts = issued[3].text().split(":")
    assert parts[:5] == ["refuge-share", "v1", INSTANCE, "4", "3/5"]
    assert len(parts[-1]) == 8


def test_whitespace_and_line_breaks_are_ignored(issued):
    text = issued[0].text()
    assert share_format.parse(f"  {text[:30]}\n{text[30:]} \n") == issued[0]


def test_the_repr_never_shows_the_payload(issued):
    assert issued[0].text().split(":")[5] not in repr(issued[0])


def test_a_mistyped_share_is_named_by_its_checksum(issued):
    text = issued[0].text()
    payload_at = text.index(":", text.index("3/5")) + 3
    typo = text[:payload_at] + ("A" if text[payload_at] != "A" else "B") + text[payload_at + 1 :]
    with pytest.raises(ShareError, match=r"mistyped \(checksum\)"):
        share_format.parse(typo)


def test_every_single_character_change_is_refused(issued):
    text = issued[1].text()
    refused = 0
    for position in range(len(text)):
        for replacement in {"A", "7", "z", ":"} - {text[position]}:
            with pytest.raises(ShareError):
                share_format.parse(text[:position] + replacement + text[position + 1 :])
            refused += 1
    assert refused >= 3 * len(text)


def test_a_truncated_share_is_refused(issued):
    with pytest.raises(ShareError):
        share_format.parse(issued[0].text()[:-3])


def test_a_foreign_text_is_not_a_share():
    with pytest.raises(ShareError, match="not a Refuge share"):
        share_format.parse("hello")


def test_a_share_of_another_instance_is_named(record, unseal_key):
    foreign = share_format.split(unseal_key, threshold=3, total=5, instance_id="ffffffff")[0]
    with pytest.raises(ShareError, match="belongs to instance ffffffff, not 0a1b2c3d"):
        sealing.check_share(record, foreign)


def test_a_share_with_other_k_and_n_is_named(record, unseal_key):
    other = share_format.split(unseal_key, threshold=2, total=5, instance_id=INSTANCE)[0]
    with pytest.raises(ShareError, match="says 2/5 but this instance was sealed 3/5"):
        sealing.check_share(record, other)


def test_a_share_from_another_init_of_the_same_shape_is_named_with_its_date(record):
    other = share_format.split(secrets.token_bytes(32), threshold=3, total=5, instance_id=INSTANCE)[
        3
    ]
    with pytest.raises(ShareError, match="share #4 does not match the one issued on 2026-11-25"):
        sealing.check_share(record, other)


def test_an_index_out_of_range_is_named(issued):
    body = issued[0].text().rsplit(":", 1)[0].replace(":1:3/5:", ":9:3/5:")
    with pytest.raises(ShareError, match=r"#9 is out of range 1..5"):
        share_format.parse(f"{body}:{share_format._crc(body)}")


def test_a_duplicate_share_is_named(record, issued):
    with pytest.raises(ShareError, match="share #2 was given twice"):
        sealing.root_from_shares(record, [issued[1], issued[1], issued[2]])


@pytest.mark.parametrize("chosen", list(itertools.combinations(range(5), 3)))
def test_any_three_of_five_unseal(record, issued, chosen):
    root = sealing.root_from_shares(record, [issued[i] for i in chosen])
    assert bytes(root) == b"R" * 32


@pytest.mark.parametrize("chosen", list(itertools.combinations(range(5), 2)))
def test_two_of_five_do_not(record, issued, chosen):
    with pytest.raises(ShareError, match="2 of 3 shares given: not enough"):
        sealing.root_from_shares(record, [issued[i] for i in chosen])


def test_a_wrong_combination_fails_to_open_the_root(record, issued):
    tampered = share_format.Share(INSTANCE, 1, 3, 5, bytes(32))
    good_hashes = dict(record.share_hashes)
    good_hashes[1] = tampered.payload_hash()
    forged = sealing.SealRecord(**{**record.__dict__, "share_hashes": good_hashes})
    with pytest.raises(ShareError, match="combine to a wrong unseal key"):
        sealing.root_from_shares(forged, [tampered, issued[1], issued[2]])


def test_root_crypto_from_shares_rebuilds_the_root_offline(record, issued):
    crypto = sealing.root_crypto_from_shares(record, [s.text() for s in issued[2:]])
    assert crypto.blind_index("d", "v", bits=64) == (
        sealing.LocalKeyCrypto(b"R" * 32).blind_index("d", "v", bits=64)
    )


def test_the_seal_record_survives_json(record):
    assert sealing.SealRecord.from_json(record.to_json()) == record


@pytest.mark.usefixtures("fast_passphrases")
def test_a_passphrase_protected_share_says_so_and_opens_with_it(issued):
    locked = share_format.lock(issued[0], "correct horse")
    assert locked.startswith(f"refuge-share-locked:v1:{INSTANCE}:1:3/5:argon2id,")
    assert share_format.read(locked, "correct horse") == issued[0]


@pytest.mark.usefixtures("fast_passphrases")
def test_a_wrong_passphrase_is_a_clear_error(issued):
    locked = share_format.lock(issued[0], "correct horse")
    with pytest.raises(ShareError, match="wrong passphrase"):
        share_format.read(locked, "battery staple")


@pytest.mark.usefixtures("fast_passphrases")
def test_a_protected_share_without_passphrase_asks_for_it(issued):
    with pytest.raises(ShareError, match="protected by a passphrase"):
        share_format.read(share_format.lock(issued[0], "pw"))


@pytest.mark.parametrize(
    ("k", "n", "message"),
    [
        (1, 5, "at least 2"),
        (3, 256, "at most 255"),
        (4, 3, "cannot exceed"),
        (3, 3, "i-accept-total-loss"),
    ],
)
def test_seal_init_guards(k, n, message):
    with pytest.raises(ShareError, match=message):
        share_format.check_threshold(k, n, accept_total_loss=False)


def test_k_equal_n_is_allowed_when_accepted():
    share_format.check_threshold(3, 3, accept_total_loss=True)
