"""What happens to the seal, announced to the layers above (accounts turns each event into a
coordinators' security notice, which alerts sends through their notification channels).

`security` imports no app above it, so it fires a hook (refuge.core.hooks) and they connect to
it. Events carry no share and nothing a share could be rebuilt from: what happened, and the
acting account's id when a staff member did it in the web or the API.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from refuge.core.hooks import Hook

SEALED = "sealed"
UNSEALED = "unsealed"
SHARE_REFUSED = "share_refused"


@dataclass(frozen=True)
class SealEvent:
    kind: str
    actor_id: uuid.UUID | None = None


seal_changed: Hook[SealEvent] = Hook("security.seal_changed")
