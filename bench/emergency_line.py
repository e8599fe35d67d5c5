"""SOS and operator calls to e-mail, and check-in throughput, against a real web server on
loopback (bench.livesite).

SOS (`sos_*`). The default policy pages an on-call rota whose one member has one e-mail channel
(bench.alertdata.on_call_email), so every SOS opens its own emergency and pages that address.
The SOS come in rounds of `scale.sos_senders` (50) at once: that many threads, each with a
person of its own, wait at a barrier and POST `action=sos` to their pages together; alongside,
`scale.operator_calls` threads log a call through the API as an operator would
(`POST /api/v1/emergencies`, an unknown caller). A round ends when every message has reached
the SMTP sink; then the next round starts with new people, until `scale.sos` SOS are sent.

For each SOS three times are kept:
- `sos_to_notify`: from the moment the SOS was recorded (the emergency's `opened_at`, written
  by the server in the request's transaction) to the moment the sink accepted the message
  naming the person's pseudonym ("People: SOSB-00042.", alone or in a message listing several):
  the emergency line's own reaction time, the figure the issue sets at p99 <= 250 ms;
- `sos_request`: the request as the person's phone sees it, queued behind the rest of the burst;
- `sos_end_to_end`: from just before the request was sent to the sink's acceptance.
Operator calls are matched by the emergency code the API answered with
(`operator_call_to_notify`). Both clocks are the machine's wall clock (one host).

Each SOS comes from its own client address (X-Forwarded-For behind REFUGE_BEHIND_TLS_PROXY=1):
people in danger are not all behind one address, and SOS from many links of one address beyond
the flood limit would rightly be paged as one emergency.

Check-ins (`checkin_*`). `scale.checkin_clients` threads, each with its own person, POST
`action=checkin&pin=2468` to their page for `scale.checkin_seconds` in all. The floor is measured
the same way: the same threads GET their person's page, /c/<token>/, for as long. The two
alternate in `CHECKIN_ROUNDS` rounds (floor, check-ins, floor, …), so that whatever else the
machine does meanwhile weighs on both alike rather than on whichever ran second. That
is the page a person opens before checking in: the same URL route, view, middleware and template
render, with reads only (the link, the schedule) and no write. (It used to be the neutral 404 of
an unknown token; since links that open nothing are counted per address to rate-limit them, that
page writes.) No new route is added for the benchmark; /accounts/login/ was not used because it
sets a session and CSRF cookie and renders the staff layout, which a check-in never does. The
ratio is therefore what a check-in's own work (two PIN hashes, the locked read, the Checkin row,
the new deadline and the audit entry, in one write transaction) leaves of
the server's request rate.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bench import alertdata, burst, livesite
from bench.caselist import BenchmarkError
from bench.scale import Scale
from bench.stats import Metric, context, metric, p50, p99

Progress = Callable[[str], None]
REQUEST_TIMEOUT_S = 60.0
SOS_PREFIX = "SOSB"
CHECKIN_PREFIX = "CHKB"
_SOS_PSEUDONYM = re.compile(rf"\b{SOS_PREFIX}-\d{{5}}\b")
_CODE = re.compile(r"\bE-[0-9A-Z]{4,8}\b")
HTTP_OK = 200
HTTP_CREATED = 201
HTTP_NOT_FOUND = 404
CHECKIN_ROUNDS = 5


def _request(
    port: int, method: str, path: str, form: dict[str, str] | None = None, address: str = ""
) -> int:
    """One request on a new connection, as a phone's browser opening the page would.
    `address`: the client address the proxy in front forwards (X-Forwarded-For), as nginx does
    in production; the site runs with REFUGE_BEHIND_TLS_PROXY=1 (bench.livesite)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    headers = {"X-Forwarded-For": address} if address else {}
    try:
        if form is None:
            conn.request(method, path, headers=headers)
        else:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _page(token: str) -> str:
    return f"/c/{token}/"


# --- SOS ---------------------------------------------------------------------------------------


@dataclass
class _Sent:
    key: str  # the pseudonym (SOS) or the emergency code (operator call) to match in messages
    started: float  # time.time() just before the request
    answered: float
    status: int


def _post_json(port: int, path: str, token: str, payload: dict[str, object]) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    try:
        body = json.dumps(payload)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def _address(number: int) -> str:
    """A distinct client address per person: people in danger are not behind one address (the
    SOS flood limit of one address would, rightly, page them as one)."""
    return f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"


def _send_sos(
    port: int, number: int, member: alertdata.Member, barrier: threading.Barrier
) -> _Sent:
    barrier.wait()
    started = time.time()
    try:
        status = _request(
            port, "POST", _page(member.token), {"action": "sos"}, address=_address(number)
        )
    except OSError:
        status = 0
    return _Sent(member.pseudonym, started, time.time(), status)


def _log_call(port: int, token: str, number: int, barrier: threading.Barrier) -> _Sent:
    barrier.wait()
    started = time.time()
    payload = {"heard": f"bench call {number}", "people": []}
    try:
        status, body = _post_json(port, "/api/v1/emergencies", token, payload)
    except OSError:
        status, body = 0, ""
    code = json.loads(body).get("code", "") if status == HTTP_CREATED else ""
    return _Sent(str(code), started, time.time(), status)


def _first_received(sink: livesite.SmtpSink, seen: dict[str, float], done: int) -> int:
    """Match the sink's messages from index `done` on to pseudonyms and emergency codes; returns
    the new index. `seen` maps each to the wall time its first message was accepted."""
    messages = sink.snapshot()
    for received in messages[done:]:
        text = livesite.text_of(received.raw)
        for key in _SOS_PSEUDONYM.findall(text) + _CODE.findall(text):
            seen.setdefault(key, received.wall)
    return len(messages)


def _round(  # noqa: PLR0917 - one round's parameters, all of them used together
    site: livesite.Site,
    members: Sequence[alertdata.Member],
    first_number: int,
    calls: int,
    operator_token: str,
    timeout: float,
    seen: dict[str, float],
    done: int,
) -> tuple[list[_Sent], list[_Sent], int]:
    barrier = threading.Barrier(len(members) + calls)
    sos: list[_Sent] = []
    logged: list[_Sent] = []

    def run_sos(number: int, member: alertdata.Member) -> None:
        sos.append(_send_sos(site.port, number, member, barrier))

    def run_call(number: int) -> None:
        logged.append(_log_call(site.port, operator_token, number, barrier))

    threads = [
        threading.Thread(target=run_sos, args=(first_number + n, m), daemon=True)
        for n, m in enumerate(members)
    ]
    threads += [threading.Thread(target=run_call, args=(n,), daemon=True) for n in range(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    expected = {s.key for s in sos + logged if s.status in {HTTP_OK, HTTP_CREATED} and s.key}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = _first_received(site.sink, seen, done)
        if expected <= set(seen):
            break
        site.check_alive()
        time.sleep(0.02)
    return sos, logged, _first_received(site.sink, seen, done)


def _opened_at(pseudonyms: Sequence[str], codes: Sequence[str]) -> dict[str, float]:
    """When each SOS and call was recorded: its emergency's opened_at, by pseudonym or code."""
    from refuge.alerts.models import Emergency, EmergencySource

    opened: dict[str, float] = {}
    for code, at in Emergency.objects.filter(code__in=list(codes)).values_list("code", "opened_at"):
        opened[code] = at.timestamp()
    rows = Emergency.objects.filter(
        source=EmergencySource.SOS, people__pseudonym__in=list(pseudonyms)
    ).values_list("people__pseudonym", "opened_at")
    for pseudonym, at in rows:
        opened[pseudonym] = min(at.timestamp(), opened.get(pseudonym, at.timestamp()))
    return opened


def measure_sos(
    site: livesite.Site,
    members: Sequence[alertdata.Member],
    operator_token: str,
    scale: Scale,
    progress: Progress,
) -> list[Metric]:
    per_round = scale.sos_senders
    rounds = [members[i : i + per_round] for i in range(0, len(members), per_round)]
    progress(
        f"Posting {len(members)} SOS in {len(rounds)} rounds of {per_round} at once, each with "
        f"{scale.operator_calls} operator calls alongside"
    )
    seen: dict[str, float] = {}
    done = 0
    sos: list[_Sent] = []
    calls: list[_Sent] = []
    for number, chunk in enumerate(rounds):
        got_sos, got_calls, done = _round(
            site,
            chunk,
            number * per_round,
            scale.operator_calls,
            operator_token,
            scale.sos_timeout_s,
            seen,
            done,
        )
        sos += got_sos
        calls += got_calls
    accepted = [s for s in sos if s.status == HTTP_OK]
    logged = [c for c in calls if c.status == HTTP_CREATED and c.key]
    opened = _opened_at([s.key for s in accepted], [c.key for c in logged])
    to_notify = [
        (seen[s.key] - opened[s.key]) * 1000 for s in accepted if s.key in seen and s.key in opened
    ]
    end_to_end = [(seen[s.key] - s.started) * 1000 for s in accepted if s.key in seen]
    requests = [(s.answered - s.started) * 1000 for s in accepted]
    call_to_notify = [
        (seen[c.key] - opened[c.key]) * 1000 for c in logged if c.key in seen and c.key in opened
    ]
    round_of = {m.pseudonym: index for index, chunk in enumerate(rounds) for m in chunk}
    round_lags: list[list[float]] = [[] for _ in rounds]
    for s in accepted:
        if s.key in seen and s.key in opened:
            round_lags[round_of[s.key]].append((seen[s.key] - opened[s.key]) * 1000)
    if len(to_notify) < 2 or len(call_to_notify) < 2:
        raise BenchmarkError(
            f"only {len(to_notify)} of {len(members)} SOS and {len(call_to_notify)} of "
            f"{len(calls)} operator calls reached the SMTP sink; logs in {site.logs}"
        )
    ctx = context(
        scale,
        repetitions=len(to_notify),
        server=livesite.SERVER,
        workers=len(site.workers),
        worker_poll_s=livesite.WORKER_POLL_SECONDS,
        concurrent_sos=per_round,
        concurrent_operator_calls=scale.operator_calls,
        rounds=len(rounds),
        sos=len(members),
        accepted=len(accepted),
        refused_or_failed=len(sos) - len(accepted),
        received=len(to_notify),
        missing=len(accepted) - len(to_notify),
        messages_at_sink=done,
        sos_to_notify_max_ms=round(max(to_notify), 1),
        sos_to_notify_max_ms_per_round=[round(max(r), 1) if r else None for r in round_lags],
        end_to_end_p50_ms=round(p50(end_to_end), 1),
        request_p50_ms=round(p50(requests), 1),
        operator_calls=len(calls),
        operator_calls_logged=len(logged),
        operator_call_to_notify_p50_ms=round(p50(call_to_notify), 1),
    )
    return [
        metric("sos_to_notify_p50_ms", p50(to_notify), "ms", ctx),
        metric("sos_to_notify_p99_ms", p99(to_notify), "ms", ctx),
        metric("operator_call_to_notify_p99_ms", p99(call_to_notify), "ms", ctx),
        metric("sos_request_p50_ms", p50(requests), "ms", ctx),
        metric("sos_request_p99_ms", p99(requests), "ms", ctx),
        metric("sos_end_to_end_p99_ms", p99(end_to_end), "ms", ctx),
    ]


# --- check-ins -----------------------------------------------------------------------------------


@dataclass
class _Load:
    ok: int = 0
    wrong: int = 0
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def add(self, other: _Load) -> None:
        self.ok += other.ok
        self.wrong += other.wrong
        self.latencies += other.latencies
        self.seconds += other.seconds


def _drive(
    port: int,
    clients: int,
    seconds: float,
    make: Callable[[int], tuple[str, str, dict[str, str] | None]],
    expected: int,
) -> _Load:
    """`clients` threads send the request `make(client)` gives, back to back, for `seconds`."""
    load = _Load()
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def client(number: int) -> None:
        method, path, form = make(number)
        latencies: list[float] = []
        ok = wrong = 0
        while time.monotonic() < end:
            started = time.perf_counter()
            try:
                status = _request(port, method, path, form)
            except OSError:
                status = 0
            if status == expected:
                ok += 1
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                wrong += 1
        with lock:
            load.ok += ok
            load.wrong += wrong
            load.latencies += latencies

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + REQUEST_TIMEOUT_S)
    load.seconds = time.monotonic() - started
    return load


def measure_checkins(
    site: livesite.Site, members: Sequence[alertdata.Member], scale: Scale, progress: Progress
) -> list[Metric]:
    clients = len(members)
    seconds = scale.checkin_seconds / CHECKIN_ROUNDS
    progress(
        f"Floor (GET of the person's own page) and check-ins (POST with the PIN), {clients} "
        f"clients, {CHECKIN_ROUNDS} rounds of {seconds:g} s each"
    )
    floor, load = _Load(), _Load()
    for _round in range(CHECKIN_ROUNDS):
        floor.add(
            _drive(
                site.port,
                clients,
                seconds,
                lambda n: ("GET", _page(members[n].token), None),
                HTTP_OK,
            )
        )
        load.add(
            _drive(
                site.port,
                clients,
                seconds,
                lambda n: (
                    "POST",
                    _page(members[n].token),
                    {"action": "checkin", "pin": alertdata.PIN},
                ),
                HTTP_OK,
            )
        )
    site.check_alive()
    if load.ok < 2 or floor.ok < 2:
        raise BenchmarkError(
            f"check-ins answered {load.ok} times ({load.wrong} wrong), the floor {floor.ok} "
            f"times ({floor.wrong} wrong); logs in {site.logs}"
        )
    ctx = context(
        scale,
        repetitions=load.ok,
        server=livesite.SERVER,
        workers=len(site.workers),
        clients=clients,
        rounds=CHECKIN_ROUNDS,
        seconds=round(load.seconds, 2),
        checkins=load.ok,
        not_200=load.wrong,
        checkin_p50_ms=round(p50(load.latencies), 2),
        floor_view="GET /c/<token>/ (the person's page, before a check-in)",
        floor_rps=round(floor.rps, 1),
        floor_requests=floor.ok,
        floor_not_200=floor.wrong,
        floor_p50_ms=round(p50(floor.latencies), 2),
        floor_p99_ms=round(p99(floor.latencies), 2),
    )
    return [
        metric("checkin_throughput_rps", load.rps, "requests/s", ctx),
        metric("checkin_p99_ms", p99(load.latencies), "ms", ctx),
        metric("checkin_floor_ratio", load.rps / floor.rps, "×", ctx),
    ]


def measure(scale: Scale, progress: Progress = print) -> list[Metric]:
    progress(
        f"Setting up {scale.sos} SOS senders, {scale.checkin_clients} check-in clients "
        "and the on-call e-mail"
    )
    sos_members = alertdata.members(SOS_PREFIX, scale.sos)
    checkin_members = alertdata.members(CHECKIN_PREFIX, scale.checkin_clients)
    alertdata.on_call_email()
    operator_token = alertdata.operator_token()
    progress("Starting gunicorn, refuge worker and the SMTP sink")
    with livesite.live_site() as site:
        metrics = measure_sos(site, sos_members, operator_token, scale, progress)
        metrics += measure_checkins(site, checkin_members, scale, progress)
        # Last: its thousand emergencies stay open and would re-page during anything after.
        metrics += burst.measure(site, scale, progress)
    return metrics
