"""The key daemon: holds the root key R while unsealed, serves key *operations*, never keys.

`KeyDaemon` is the state (sealed or not, pending shares) and the operations; `KeydServer` puts it
on a Unix socket (mode 0600, peer uid checked with SO_PEERCRED, one thread per connection).
Field values and streams are never sent here: clients encrypt with the per-record data key
(envelope encryption), so keyd sees wrapped keys, shares and blind-index inputs only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from refuge.security import sealing
from refuge.security import shares as share_format
from refuge.security.crypto import DecryptionError, KeyContext, LocalKeyCrypto
from refuge.security.keyd import protocol

logger = logging.getLogger("refuge.keyd")

RecordLoader = Callable[[], sealing.SealRecord | None]
_KEY_BYTES = 64
_MAX_KEK_VERSION = 65535


class KeyDaemon:
    """Sealed at start. Pending shares live in memory only and expire."""

    def __init__(
        self,
        load_record: RecordLoader,
        *,
        pending_seconds: float = 600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load_record = load_record
        self._pending_seconds = pending_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._root: bytearray | None = None
        self._crypto: LocalKeyCrypto | None = None
        self._record: sealing.SealRecord | None = None
        self._pending: dict[int, share_format.Share] = {}
        self._pending_since: float | None = None

    # -- state -------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        with self._lock:
            return self._status()

    def _status(self) -> dict[str, Any]:
        self._expire_pending()
        record = self._record or self._load_record()
        self._record = record
        return {
            "initialised": record is not None,
            "sealed": self._crypto is None,
            "t": record.threshold if record else 0,
            "n": record.shares if record else 0,
            "progress": len(self._pending),
            "instance_id": record.instance_id if record else "",
        }

    def _expire_pending(self) -> None:
        if self._pending_since is not None and (
            self._clock() - self._pending_since > self._pending_seconds
        ):
            self._drop_pending()

    def _drop_pending(self) -> None:
        self._pending.clear()
        self._pending_since = None

    def unseal(self, share_text: str) -> dict[str, Any]:
        """Add one share; with the k-th, combine and open R. Errors name the share at fault."""
        with self._lock:
            self._expire_pending()
            if self._crypto is not None:
                return self._status()
            record = self._load_record()
            if record is None:
                raise sealing.NotInitialisedError("this instance has no seal: run refuge seal init")
            self._record = record
            share = share_format.parse(share_text)
            sealing.check_share(record, share)
            if share.index in self._pending:
                raise share_format.ShareError(f"share #{share.index} was already entered")
            self._pending[share.index] = share
            if self._pending_since is None:
                self._pending_since = self._clock()
            if len(self._pending) >= record.threshold:
                chosen = list(self._pending.values())
                self._drop_pending()
                root = sealing.root_from_shares(record, chosen)
                self._open(root)
            return self._status()

    def unseal_with_key(self, root: bytearray) -> None:
        with self._lock:
            self._open(root)

    def _open(self, root: bytearray) -> None:
        self._root = root
        self._crypto = LocalKeyCrypto(bytes(root))

    def reset(self) -> dict[str, Any]:
        with self._lock:
            self._drop_pending()
            return self._status()

    def seal(self) -> dict[str, Any]:
        """Drop R and every derived key. Overwriting is best effort in Python (docs/sealing.md)."""
        with self._lock:
            if self._root is not None:
                sealing.wipe(self._root)
            self._root = None
            self._crypto = None
            self._drop_pending()
            return self._status()

    # -- key operations ----------------------------------------------------------------------

    def _require(self) -> LocalKeyCrypto:
        crypto = self._crypto
        if crypto is None:
            raise sealing.SealedError("sealed")
        return crypto

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        handler = _OPERATIONS.get(op if isinstance(op, str) else "")
        if handler is None:
            raise protocol.ProtocolError("unknown operation")
        return handler(self, request)

    def _op_status(self, _request: dict[str, Any]) -> dict[str, Any]:
        return self.status()

    def _op_unseal(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.unseal(protocol.text(request, "share"))

    def _op_reset(self, _request: dict[str, Any]) -> dict[str, Any]:
        return self.reset()

    def _op_seal(self, _request: dict[str, Any]) -> dict[str, Any]:
        return self.seal()

    def _op_new_data_key(self, request: dict[str, Any]) -> dict[str, Any]:
        crypto = self._require()
        dek, wrapped = crypto.new_data_key(_context(request), kek_version=_kek_version(request))
        return {"dek": protocol.b64(dek), "wrapped": protocol.b64(wrapped)}

    def _op_unwrap_key(self, request: dict[str, Any]) -> dict[str, Any]:
        crypto = self._require()
        wrapped = protocol.unb64(request, "wrapped", max_bytes=_KEY_BYTES * 4)
        return {"dek": protocol.b64(crypto.unwrap_key(wrapped, _context(request)))}

    def _op_rewrap_key(self, request: dict[str, Any]) -> dict[str, Any]:
        crypto = self._require()
        wrapped = protocol.unb64(request, "wrapped", max_bytes=_KEY_BYTES * 4)
        new = crypto.rewrap_key(wrapped, _context(request), kek_version=_kek_version(request))
        return {"wrapped": protocol.b64(new)}

    def _op_blind_index(self, request: dict[str, Any]) -> dict[str, Any]:
        crypto = self._require()
        index = crypto.blind_index(
            protocol.text(request, "domain", max_chars=200),
            protocol.text(request, "value", max_chars=4096),
            bits=protocol.integer(request, "bits", low=1, high=256),
        )
        return {"index": protocol.b64(index)}


def _context(request: dict[str, Any]) -> KeyContext:
    return KeyContext(
        protocol.text(request, "key_id", max_chars=64),
        protocol.text(request, "purpose", max_chars=32),
    )


def _kek_version(request: dict[str, Any]) -> int:
    return protocol.integer(request, "kek_version", low=1, high=_MAX_KEK_VERSION)


_OPERATIONS: dict[str, Callable[[KeyDaemon, dict[str, Any]], dict[str, Any]]] = {
    "status": KeyDaemon._op_status,
    "unseal": KeyDaemon._op_unseal,
    "reset": KeyDaemon._op_reset,
    "seal": KeyDaemon._op_seal,
    "new_data_key": KeyDaemon._op_new_data_key,
    "unwrap_key": KeyDaemon._op_unwrap_key,
    "rewrap_key": KeyDaemon._op_rewrap_key,
    "blind_index": KeyDaemon._op_blind_index,
}


def answer(daemon: KeyDaemon, request: dict[str, Any]) -> dict[str, Any]:
    """One request to one response; every failure becomes a named error, never a traceback."""
    try:
        return {"ok": True, **daemon.handle(request)}
    except sealing.SealedError:
        return {"ok": False, "error": "sealed", "message": "sealed"}
    except sealing.NotInitialisedError as exc:
        return {"ok": False, "error": "not_initialised", "message": str(exc)}
    except share_format.ShareError as exc:
        return {"ok": False, "error": "share", "message": str(exc)}
    except DecryptionError as exc:
        return {"ok": False, "error": "decryption", "message": str(exc)}
    except (protocol.ProtocolError, ValueError) as exc:
        return {"ok": False, "error": "bad_request", "message": str(exc)}


def peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


class _Handler(socketserver.BaseRequestHandler):
    server: KeydServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        uid = peer_uid(sock)
        if uid not in self.server.allowed_uids:
            logger.warning("keyd: refused a connection from uid %s", uid)
            return
        sock.settimeout(30)
        with contextlib.suppress(OSError, protocol.ProtocolError):
            while True:
                request = protocol.receive(sock)
                if request is None:
                    return
                protocol.send(sock, answer(self.server.daemon, request))


class KeydServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: Path, daemon: KeyDaemon, *, allowed_uids: set[int]) -> None:
        self.daemon = daemon
        self.allowed_uids = allowed_uids
        self.socket_path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _remove_stale(path)
        previous = os.umask(0o177)  # the socket is created 0600: no window with wider access
        try:
            super().__init__(str(path), _Handler)
        finally:
            os.umask(previous)
        path.chmod(0o600)

    def server_close(self) -> None:
        super().server_close()
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()


def _remove_stale(path: Path) -> None:
    """A socket file left by a dead keyd is removed; a live keyd is never displaced."""
    if not path.exists():
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1)
    try:
        probe.connect(str(path))
    except OSError:
        path.unlink()
        return
    finally:
        probe.close()
    raise OSError(f"another keyd is already listening on {path}")
