"""The alerts API router and its path objects; each area lives in its own module."""

from ninja import Router

from refuge.accounts.api import Fetch
from refuge.alerts.api import (
    calls,
    checkins,
    emergencies,
    emergency_records,
    setup,
    setup_channels,
)

router = Router()
router.add_router("/", setup.router)
router.add_router("/", setup_channels.router)
router.add_router("/", emergencies.router)
router.add_router("/", emergency_records.router)
router.add_router("/", calls.router)
router.add_router("/", checkins.router)

# Path parameter -> how its endpoints fetch the object it names (see accounts.api.Fetch).
PATH_OBJECTS: dict[str, Fetch] = {
    **setup.PATH_OBJECTS,
    **setup_channels.PATH_OBJECTS,
    **emergencies.PATH_OBJECTS,
    **calls.PATH_OBJECTS,
}

__all__ = ["PATH_OBJECTS", "router"]
