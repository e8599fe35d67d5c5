"""Where staff sign in from, coarsely, to tell coordinators about a login from a new place.

A "place" is the network a login comes from: the first 16 bits of an IPv4 address, the first 32
of an IPv6 one (an internet provider's block in a region, not a household). What is stored is a
keyed digest of the account and that prefix (HMAC-SHA256 keyed from REFUGE_SECRET_KEY, which is
not in the database), never the address or the prefix: a copy of the database does not say
where anyone was, and digests of two accounts cannot be compared. The digest only answers "has
this account signed in from this network before?".

The first login of an account only records its place. A later completed login (password and
second factor) from a network the account has not used raises a security notice, which
coordinators see on the notices page and receive on their notification channels; the notice
says "a new place" and nothing more. Logins through the onion service all come from the local
Tor daemon and count as one place; logins over Tor exit relays look new almost every time.
"""

from __future__ import annotations

import ipaddress

from django.db import transaction
from django.http import HttpRequest
from django.utils.crypto import salted_hmac

from refuge.accounts import notices
from refuge.accounts.client_ip import client_ip
from refuge.accounts.models import KnownPlace, SecurityNotice, User
from refuge.core import clock
from refuge.security import audit

IPV4_PREFIX = 16
IPV6_PREFIX = 32
# The oldest-seen places beyond this many are forgotten (a travelling colleague's list stays
# short; a place forgotten long ago counts as new again).
PLACES_KEPT = 20


def place_digest(user: User, address: str) -> str | None:
    """The account's keyed digest of the network `address` is in; None for no usable address."""
    try:
        parsed = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    bits = IPV4_PREFIX if parsed.version == 4 else IPV6_PREFIX  # noqa: PLR2004
    network = ipaddress.ip_network(f"{parsed}/{bits}", strict=False)
    message = f"{user.pk}|{network.network_address}/{bits}"
    return salted_hmac("refuge.accounts.login-place", message, algorithm="sha256").hexdigest()


def login_place_note(*, user: User, address: str) -> bool:
    """Record that `user` completed a login from `address`; True when it was a new place for an
    account that had signed in before (a notice was raised)."""
    digest = place_digest(user, address)
    if digest is None:
        return False
    now = clock.now()
    with transaction.atomic():
        known = KnownPlace.objects.select_for_update().filter(user=user)
        if known.filter(digest=digest).update(last_seen=now):
            return False
        had_places = known.exists()
        KnownPlace.objects.create(user=user, digest=digest, first_seen=now, last_seen=now)
        stale = list(known.order_by("-last_seen").values_list("pk", flat=True)[PLACES_KEPT:])
        if stale:
            KnownPlace.objects.filter(pk__in=stale).delete()
        if not had_places:
            return False
        audit.record("refuge.accounts.session.new_place", actor=user, obj=user, detail={})
        notices.notice_raise(kind=SecurityNotice.Kind.NEW_PLACE_LOGIN, user=user)
    return True


def login_completed(request: HttpRequest, user: User) -> None:
    """Call once a login has passed its second factor."""
    login_place_note(user=user, address=client_ip(request))
