"""A burst of missed check-ins: `scale.burst` people whose check-ins are all missed at the same
moment (a daily check-in at 21:00 that nobody made, a relay down), against the real worker of
bench.livesite and its SMTP sink (`missed_checkin_burst_1000_s`).

The people are made with bulk_create, like every bench person (bench.alertdata), each with an
interval schedule whose alert_at is the same instant T, a few seconds ahead, so the worker is
idle when T comes and must wake by its own timer (core.jobs.next_due), not by a poll or a commit.
`scale.burst_busy` of them already have an open emergency (an SOS raised before T): their missed
check-ins must join it and page nobody again, as always.

The figure is the time from T to the moment the sink accepted the last message naming one of
the others' pseudonyms (alone or in a message listing several for the on-call address): every
alert handed to its channel. The run fails, rather than reporting a figure, if any of them is
never paged, if a busy person's alert opened an emergency of its own, or if one was paged twice.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections import Counter
from collections.abc import Callable

from django.db import transaction

from bench import alertdata, livesite
from bench.caselist import BenchmarkError
from bench.generate import INSERT_BATCH, _KeyMaker
from bench.scale import Scale
from bench.stats import Metric, context, metric, p50
from refuge.alerts.models import Alert, CheckinSchedule, Emergency, EmergencySource, Priority
from refuge.alerts.services import emergencies
from refuge.core import clock

Progress = Callable[[str], None]
PREFIX = "BRST"
LEAD_S = 6.0  # T is this far after the schedules are written: the worker is idle when it comes
_PSEUDONYM = re.compile(rf"\b{PREFIX}-\d{{5}}\b")


def _people(count: int, alert_at: dt.datetime) -> list[str]:
    keys = _KeyMaker()
    names = [f"{PREFIX}-{index:05d}" for index in range(1, count + 1)]
    people = alertdata._people(names, keys)
    schedules = [alertdata._schedule(person, alert_at, with_pins=False) for person in people]
    with transaction.atomic():
        alertdata._insert_people(people)
        CheckinSchedule.objects.bulk_create(schedules, batch_size=INSERT_BATCH)
    return names


def _busy(names: list[str]) -> None:
    """Open an SOS emergency for each of `names` before the burst."""
    for person in CheckinSchedule.objects.filter(person__pseudonym__in=names).select_related(
        "person"
    ):
        emergencies.raise_alert(
            source=EmergencySource.SOS,
            people=[person.person],
            priority=Priority.TOP,
            reported_at=clock.now(),
            dedupe_key=f"bench-burst-busy:{person.person.pseudonym}",
        )


def _wait_paged(site: livesite.Site, names: set[str], *, since: int, timeout: float) -> None:
    """Until every one of `names` is named in a message received after the first `since`."""
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        named: set[str] = set()
        for received in site.sink.snapshot()[since:]:
            named.update(_PSEUDONYM.findall(livesite.text_of(received.raw)))
        if names <= named:
            return
        site.check_alive()
        time.sleep(0.05)
    raise BenchmarkError(f"the busy people's SOS were not all paged within {timeout:g} s")


def measure(site: livesite.Site, scale: Scale, progress: Progress = print) -> list[Metric]:
    count, busy_count = scale.burst, scale.burst_busy
    progress(f"A burst of {count:,} check-ins missed at the same moment ({busy_count} joining)")
    deadline = clock.now() + dt.timedelta(seconds=LEAD_S + 4)
    names = _people(count, deadline)
    busy = names[:busy_count]
    before_busy = site.sink.count()
    _busy(busy)
    # Everything before the burst has been paged (the busy people's SOS first: a quiet sink
    # alone would not say so, their pages may not have started yet); only the burst's
    # messages are counted.
    _wait_paged(site, set(busy), since=before_busy, timeout=scale.burst_timeout_s)
    site.sink.wait_quiet(seconds=1.0, timeout=60.0)
    first_message = site.sink.count()
    at = clock.now() + dt.timedelta(seconds=LEAD_S)
    CheckinSchedule.objects.filter(person__pseudonym__in=names).update(
        alert_at=at, next_deadline=at - dt.timedelta(minutes=alertdata.GRACE_MINUTES)
    )
    t_wall = at.timestamp()
    expected = set(names) - set(busy)
    seen: dict[str, float] = {}
    paged: Counter[str] = Counter()
    done = first_message
    give_up = time.time() + LEAD_S + scale.burst_timeout_s
    while time.time() < give_up:
        messages = site.sink.snapshot()
        for received in messages[done:]:
            found = set(_PSEUDONYM.findall(livesite.text_of(received.raw)))
            for name in found:
                paged[name] += 1
                seen.setdefault(name, received.wall)
        done = len(messages)
        if expected <= set(seen):
            break
        site.check_alive()
        time.sleep(0.02)
    time.sleep(1.0)  # anything paged twice or for a busy person shows up by now
    for received in site.sink.snapshot()[done:]:
        for name in set(_PSEUDONYM.findall(livesite.text_of(received.raw))):
            paged[name] += 1
    missing = expected - set(seen)
    if missing:
        raise BenchmarkError(
            f"{len(missing)} of {len(expected)} missed check-ins were never paged "
            f"within {scale.burst_timeout_s:g} s; logs in {site.logs}"
        )
    repeated = [name for name in expected if paged[name] > 1]
    busy_paged = [name for name in busy if paged[name]]
    raised = Alert.objects.filter(
        source=EmergencySource.MISSED_CHECKIN, person__pseudonym__in=names
    ).count()
    emergencies_of_busy = Emergency.objects.filter(people__pseudonym__in=busy).count()
    if repeated or busy_paged or raised != count or emergencies_of_busy != len(busy):
        raise BenchmarkError(
            f"the burst paged {len(repeated)} people twice and {len(busy_paged)} who had an open "
            f"emergency; {raised} of {count} alerts raised; the {len(busy)} busy people have "
            f"{emergencies_of_busy} emergencies (should be one each)"
        )
    lags = [(seen[name] - t_wall) * 1000 for name in expected]
    ctx = context(
        scale,
        repetitions=len(lags),
        server=livesite.SERVER,
        workers=len(site.workers),
        worker_poll_s=livesite.WORKER_POLL_SECONDS,
        missed=count,
        joined_open_emergencies=len(busy),
        paged=len(expected),
        messages=done - first_message,
        first_paged_ms=round(min(lags), 1),
        p50_ms=round(p50(lags), 1),
        channel="e-mail to one on-call address (SMTP sink)",
    )
    return [metric("missed_checkin_burst_1000_s", max(lags) / 1000, "s", ctx)]
