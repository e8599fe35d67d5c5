"""A sealed instance inside the test process: `seal init` adopts the test key file as the root
key (the migration path), and keyd runs in a thread on a short temporary socket path."""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from refuge.security import services_seal
from refuge.security.keyd.client import KeydClient
from refuge.security.keyd.server import KeyDaemon, KeydServer
from refuge.security.provider import get_crypto


@dataclass
class SealedInstance:
    result: services_seal.SealInitResult
    daemon: KeyDaemon
    client: KeydClient

    def unseal(self) -> None:
        for share in self.result.shares[: self.result.record.threshold]:
            self.client.unseal(share.text())
        assert not self.client.status().sealed

    def seal(self) -> None:
        self.client.seal()


@pytest.fixture
def sealed_instance(settings, cast) -> Iterator[SealedInstance]:  # type: ignore[no-untyped-def]
    del cast  # the cast's records were written under the key file, before sealing
    result = services_seal.seal_init(threshold=2, total=3)
    with tempfile.TemporaryDirectory(prefix="keyd-") as directory:
        path = Path(directory) / "keyd.sock"
        settings.KEY_MODE = "sealed"
        settings.KEYD_SOCKET = path
        get_crypto.cache_clear()
        daemon = KeyDaemon(lambda: result.record)
        server = KeydServer(path, daemon, allowed_uids={os.getuid()})
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        try:
            yield SealedInstance(result, daemon, KeydClient(path))
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
            get_crypto.cache_clear()
