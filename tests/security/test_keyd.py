"""keyd over a real Unix socket (a server thread, a tmp socket path)."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from refuge.security import sealing
from refuge.security import shares as share_format
from refuge.security.crypto import DecryptionError, FieldContext, KeyContext, LocalKeyCrypto
from refuge.security.keyd.client import KeydClient, KeydCrypto
from refuge.security.keyd.server import KeyDaemon, KeydServer

ROOT = secrets.token_bytes(32)
CONTEXT = KeyContext("key-1", "record")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sealed_setup() -> tuple[sealing.SealRecord, list[share_format.Share]]:
    unseal_key = secrets.token_bytes(32)
    issued = share_format.split(unseal_key, threshold=3, total=5, instance_id="c0ffee00")
    record = sealing.SealRecord(
        instance_id="c0ffee00",
        threshold=3,
        shares=5,
        wrapped_root=sealing.wrap_root(unseal_key, ROOT, "c0ffee00"),
        share_hashes={s.index: s.payload_hash() for s in issued},
        intake_public_key=LocalKeyCrypto(ROOT).intake_public_key(),
        created_at=dt.datetime(2026, 11, 25, tzinfo=dt.UTC),
    )
    return record, issued


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def socket_path() -> Iterator[Path]:
    # AF_UNIX paths are short (108 bytes): pytest's tmp_path may be too long.
    import tempfile

    with tempfile.TemporaryDirectory(prefix="keyd-") as directory:
        yield Path(directory) / "keyd.sock"


def _serve(path: Path, daemon: KeyDaemon, uids: set[int]) -> Iterator[KeydServer]:
    server = KeydServer(path, daemon, allowed_uids=uids)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def daemon(sealed_setup, clock) -> KeyDaemon:
    record, _issued = sealed_setup
    return KeyDaemon(lambda: record, pending_seconds=600, clock=clock)


@pytest.fixture
def server(socket_path, daemon) -> Iterator[KeydServer]:
    yield from _serve(socket_path, daemon, {os.getuid()})


@pytest.fixture
def client(server, socket_path) -> KeydClient:
    return KeydClient(socket_path)


@pytest.fixture
def crypto(client, sealed_setup) -> KeydCrypto:
    record, _issued = sealed_setup
    return KeydCrypto(client, lambda: record.intake_public_key)


def _unseal(client: KeydClient, issued: list[share_format.Share], count: int = 3) -> None:
    for share in issued[:count]:
        client.unseal(share.text())


def test_the_socket_is_private_to_its_owner(server, socket_path):
    assert stat.S_IMODE(socket_path.stat().st_mode) == 0o600


def test_keyd_starts_sealed(client):
    status = client.status()
    assert (status.sealed, status.threshold, status.shares, status.progress) == (True, 3, 5, 0)


def test_a_sealed_keyd_refuses_key_operations(crypto):
    with pytest.raises(sealing.SealedError):
        crypto.unwrap_key(b"\x01\x01\x00\x01" + bytes(72), CONTEXT)


def test_unseal_reports_progress_like_vault(client, sealed_setup):
    _record, issued = sealed_setup
    assert client.unseal(issued[0].text()).progress == 1
    status = client.unseal(issued[4].text())
    assert (status.sealed, status.progress) == (True, 2)


def test_the_kth_share_unseals(client, sealed_setup):
    _unseal(client, sealed_setup[1])
    status = client.status()
    assert (status.sealed, status.progress) == (False, 0)


def test_a_bad_share_is_named_and_keeps_the_progress(client, sealed_setup):
    _record, issued = sealed_setup
    client.unseal(issued[0].text())
    text = issued[1].text()
    typo = text[:-1] + ("1" if text[-1] == "0" else "0")
    with pytest.raises(share_format.ShareError, match="checksum"):
        client.unseal(typo)
    assert client.status().progress == 1


def test_the_same_share_twice_is_refused(client, sealed_setup):
    _record, issued = sealed_setup
    client.unseal(issued[0].text())
    with pytest.raises(share_format.ShareError, match="already entered"):
        client.unseal(issued[0].text())


def test_pending_shares_expire_after_ten_minutes(client, sealed_setup, clock):
    _record, issued = sealed_setup
    client.unseal(issued[0].text())
    client.unseal(issued[1].text())
    clock.now += 601
    assert client.status().progress == 0
    assert client.unseal(issued[2].text()).sealed


def test_reset_drops_pending_shares(client, sealed_setup):
    client.unseal(sealed_setup[1][0].text())
    assert client.reset().progress == 0


def test_unsealed_keyd_serves_key_operations_never_keys(crypto, client, sealed_setup):
    _unseal(client, sealed_setup[1])
    dek, wrapped = crypto.new_data_key(CONTEXT, kek_version=1)
    assert crypto.unwrap_key(wrapped, CONTEXT) == dek
    assert LocalKeyCrypto(ROOT).unwrap_key(wrapped, CONTEXT) == dek
    assert crypto.blind_index("people.phone", "+79005550123", bits=16) == LocalKeyCrypto(
        ROOT
    ).blind_index("people.phone", "+79005550123", bits=16)


def test_fields_are_encrypted_in_the_client_with_the_data_key(crypto, client, sealed_setup):
    _unseal(client, sealed_setup[1])
    dek, _wrapped = crypto.new_data_key(CONTEXT, kek_version=1)
    context = FieldContext("t", "c", "1")
    assert crypto.decrypt_field(dek, crypto.encrypt_field(dek, "Testaev", context), context) == (
        "Testaev"
    )


def test_seal_drops_the_root_at_once(crypto, client, sealed_setup):
    _unseal(client, sealed_setup[1])
    _dek, wrapped = crypto.new_data_key(CONTEXT, kek_version=1)
    assert client.seal().sealed
    with pytest.raises(sealing.SealedError):
        crypto.unwrap_key(wrapped, CONTEXT)


def test_while_sealed_new_keys_are_wrapped_for_the_intake_box(crypto):
    dek, wrapped = crypto.new_data_key(CONTEXT, kek_version=1)
    assert wrapped[1] == 2  # ALG_INTAKE_BOX
    assert LocalKeyCrypto(ROOT).unwrap_key(wrapped, CONTEXT) == dek


def test_an_intake_box_key_moved_to_another_record_does_not_open(crypto):
    _dek, wrapped = crypto.new_data_key(CONTEXT, kek_version=1)
    with pytest.raises(DecryptionError, match="another record"):
        LocalKeyCrypto(ROOT).unwrap_key(wrapped, KeyContext("key-2", "record"))


def test_unsealed_keyd_opens_intake_box_keys_and_rewraps_them(crypto, client, sealed_setup):
    dek, wrapped = crypto.new_data_key(CONTEXT, kek_version=1)
    _unseal(client, sealed_setup[1])
    assert crypto.unwrap_key(wrapped, CONTEXT) == dek
    rewrapped = crypto.rewrap_key(wrapped, CONTEXT, kek_version=1)
    assert rewrapped[1] == 1
    assert crypto.unwrap_key(rewrapped, CONTEXT) == dek


def test_a_tampered_wrapped_key_is_a_decryption_error(crypto, client, sealed_setup):
    _unseal(client, sealed_setup[1])
    _dek, wrapped = crypto.new_data_key(CONTEXT, kek_version=1)
    with pytest.raises(DecryptionError):
        crypto.unwrap_key(wrapped[:-1] + bytes([wrapped[-1] ^ 1]), CONTEXT)


def test_a_malformed_request_is_refused_by_name(client, sealed_setup):
    _unseal(client, sealed_setup[1])
    with pytest.raises(ValueError, match="unknown operation"):
        client.call("give_me_the_root")


def test_another_uid_is_refused(socket_path, daemon, sealed_setup):
    for _server in _serve(socket_path, daemon, {os.getuid() + 1}):
        with pytest.raises(sealing.SealedError):
            KeydClient(socket_path).call("status")


def test_no_keyd_means_sealed(socket_path):
    assert KeydClient(socket_path).status().reachable is False
    with pytest.raises(sealing.SealedError):
        KeydClient(socket_path).call("status")


def test_a_second_keyd_cannot_take_over_the_socket(server, socket_path, daemon):
    with pytest.raises(OSError, match="already listening"):
        KeydServer(socket_path, daemon, allowed_uids={os.getuid()})


def test_a_stale_socket_file_is_replaced(socket_path, daemon):
    import socket

    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(socket_path))
    stale.close()
    for _server in _serve(socket_path, daemon, {os.getuid()}):
        assert KeydClient(socket_path).status().sealed


def test_an_oversized_request_is_refused_and_keyd_keeps_serving(client, socket_path):
    import socket
    import struct

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(socket_path))
        sock.sendall(struct.pack(">I", 10 * 1024 * 1024))
        assert sock.recv(4) == b""  # closed without reading 10 MB
    assert client.status().sealed


def test_blind_indexes_fail_closed_right_after_seal_now(crypto, client, sealed_setup):
    _unseal(client, sealed_setup[1])
    before = crypto.blind_index("people.phone", "+79001234567", bits=16)
    assert client.seal().sealed  # the subkeys derived while unsealed go with the root
    with pytest.raises(sealing.SealedError):
        crypto.blind_index("people.phone", "+79001234567", bits=16)
    _unseal(client, sealed_setup[1])
    assert crypto.blind_index("people.phone", "+79001234567", bits=16) == before
