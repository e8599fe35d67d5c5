"""Which `Crypto` this process uses: `get_crypto()`.

Key-file mode: a LocalKeyCrypto holding the master key from REFUGE_KEY_FILE. Sealed mode: keyd's
client, which holds no key and asks `refuge keyd` for every key operation. This module sits above
crypto.py, sealing.py and keyd/ (they never import it), so those three form no import circle.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from django.conf import settings

from refuge.security.crypto import Crypto, LocalKeyCrypto
from refuge.security.keyd.client import KeydClient, KeydCrypto
from refuge.security.keystore import load_key_file
from refuge.security.models import DataKey, Seal


@cache
def get_crypto() -> Crypto:
    """The configured implementation; tests and `keys` commands may reset it with cache_clear.

    Sealed mode (REFUGE_KEY_MODE=sealed): the root key is in `refuge keyd` only, reached over its
    Unix socket; see refuge.security.keyd. Key-file mode: the key file is created on first run
    only: once data keys exist, a missing key file means a wrong REFUGE_KEY_FILE or a lost key,
    and a fresh key would make every record unreadable."""
    if settings.KEY_MODE == "sealed":
        return KeydCrypto(KeydClient(settings.KEYD_SOCKET), _intake_public_key())
    create = not settings.KEY_FILE.exists() and not DataKey.objects.exists()
    return LocalKeyCrypto(load_key_file(settings.KEY_FILE, create=create))


def _intake_public_key() -> Callable[[], bytes | None]:
    """Read once from the Seal row when first needed (it never changes after `seal init`)."""
    found: list[bytes] = []

    def read() -> bytes | None:
        if not found:
            key = Seal.objects.filter(id=1).values_list("intake_public_key", flat=True).first()
            if key is None:
                return None
            found.append(bytes(key))
        return found[0]

    return read
