"""SOS to e-mail and check-in throughput, against a real web server on loopback (bench.livesite).

SOS (`sos_to_notify_*`). `scale.sos` people each get a personal link; the default policy pages
an on-call rota whose one member has one e-mail channel (bench.alertdata.on_call_email), so
every SOS opens its own emergency and sends exactly one message. `scale.sos_senders` threads
take the next person and POST `action=sos` to their page, one after the other, until all are
sent. The latency of an SOS runs from just before its request is sent to the moment the SMTP
sink accepted the message naming the person's pseudonym ("People: SOSB-00042."). It includes
the request, the worker's poll (REFUGE_WORKER_POLL_SECONDS=1), the escalation step, and the
send through Apprise; nothing else runs on the worker.

Check-ins (`checkin_*`). `scale.checkin_clients` threads, each with its own person, POST
`action=checkin&pin=2468` to their page for `scale.checkin_seconds`. The floor is measured the
same way just before: the same threads GET their person's page, /c/<token>/, for as long. That
is the page a person opens before checking in: the same URL route, view, middleware and template
render, with reads only (the link, the schedule) and no write. (It used to be the neutral 404 of
an unknown token; since links that open nothing are counted per address to rate-limit them, that
page writes.) No new route is added for the benchmark; /accounts/login/ was not used because it
sets a session and CSRF cookie and renders the staff layout, which a check-in never does. The
ratio is therefore what a check-in's own work (two PIN hashes, the locked read, the Checkin row,
the new deadline, the follow-up job and the audit entry, in one write transaction) leaves of
the server's request rate.

Each SOS comes from its own client address (X-Forwarded-For behind REFUGE_BEHIND_TLS_PROXY=1):
200 people are not behind one address, and SOS from many links of one address beyond the flood
limit would rightly be paged as one emergency.
"""

from __future__ import annotations

import http.client
import queue
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bench import alertdata, livesite
from bench.caselist import BenchmarkError
from bench.scale import Scale
from bench.stats import Metric, context, metric, p50, p99

Progress = Callable[[str], None]
REQUEST_TIMEOUT_S = 60.0
SOS_PREFIX = "SOSB"
CHECKIN_PREFIX = "CHKB"
_SOS_PSEUDONYM = re.compile(rf"\b{SOS_PREFIX}-\d{{5}}\b")
HTTP_OK = 200


def _request(
    port: int, method: str, path: str, form: dict[str, str] | None = None, address: str = ""
) -> int:
    """One request on a new connection (gunicorn's sync workers close every connection).
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


# --- SOS -----------------------------------------------------------------------------------------


@dataclass
class _Sent:
    pseudonym: str
    started: float  # time.monotonic()
    answered: float
    status: int


def _address(number: int) -> str:
    """A distinct client address per person: 200 people in danger are not behind one address
    (the SOS flood limit of one address would, rightly, page them as one)."""
    return f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"


def _send_sos(
    port: int, todo: queue.Queue[tuple[int, alertdata.Member]], sent: list[_Sent]
) -> None:
    while True:
        try:
            number, member = todo.get_nowait()
        except queue.Empty:
            return
        started = time.monotonic()
        try:
            status = _request(
                port, "POST", _page(member.token), {"action": "sos"}, address=_address(number)
            )
        except OSError:
            status = 0
        sent.append(_Sent(member.pseudonym, started, time.monotonic(), status))


def _first_received(sink: livesite.SmtpSink, seen: dict[str, float], done: int) -> int:
    """Match the sink's messages from index `done` on to pseudonyms; returns the new index."""
    messages = sink.snapshot()
    for received in messages[done:]:
        for pseudonym in _SOS_PSEUDONYM.findall(livesite.text_of(received.raw)):
            seen.setdefault(pseudonym, received.at)
    return len(messages)


def measure_sos(
    site: livesite.Site, members: Sequence[alertdata.Member], scale: Scale, progress: Progress
) -> list[Metric]:
    todo: queue.Queue[tuple[int, alertdata.Member]] = queue.Queue()
    for number, member in enumerate(members):
        todo.put((number, member))
    sent: list[_Sent] = []  # list.append is atomic under the GIL
    progress(f"Posting {len(members)} SOS from {scale.sos_senders} concurrent senders")
    started = time.monotonic()
    threads = [
        threading.Thread(target=_send_sos, args=(site.port, todo, sent), daemon=True)
        for _sender in range(scale.sos_senders)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(scale.sos_timeout_s)
    posted_in = time.monotonic() - started
    accepted = {s.pseudonym: s for s in sent if s.status == HTTP_OK}
    seen: dict[str, float] = {}
    done = 0
    deadline = started + scale.sos_timeout_s
    while time.monotonic() < deadline:
        done = _first_received(site.sink, seen, done)
        if all(name in seen for name in accepted):
            break
        site.check_alive()
        time.sleep(0.1)
    done = _first_received(site.sink, seen, done)
    latencies = [(seen[name] - s.started) * 1000 for name, s in accepted.items() if name in seen]
    if len(latencies) < 2:
        raise BenchmarkError(
            f"only {len(latencies)} of {len(members)} SOS reached the SMTP sink; "
            f"logs in {site.logs}"
        )
    responses = [(s.answered - s.started) * 1000 for s in sent if s.status == HTTP_OK]
    ctx = context(
        scale,
        repetitions=len(latencies),
        server=f"gunicorn, {livesite.GUNICORN_WORKERS} sync workers, 127.0.0.1",
        worker_poll_s=livesite.WORKER_POLL_SECONDS,
        senders=scale.sos_senders,
        sos=len(members),
        accepted=len(accepted),
        refused_or_failed=len(sent) - len(accepted),
        received=len(latencies),
        missing=len(accepted) - len(latencies),
        messages_at_sink=done,
        posted_in_s=round(posted_in, 2),
        request_p50_ms=round(p50(responses), 1),
        request_p99_ms=round(p99(responses), 1) if len(responses) >= 2 else None,
        max_ms=round(max(latencies), 1),
    )
    return [
        metric("sos_to_notify_p50_ms", p50(latencies), "ms", ctx),
        metric("sos_to_notify_p99_ms", p99(latencies), "ms", ctx),
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
    progress(f"Floor: GET of the person's own page, {clients} clients, {scale.checkin_seconds:g} s")
    floor = _drive(
        site.port,
        clients,
        scale.checkin_seconds,
        lambda n: ("GET", _page(members[n].token), None),
        HTTP_OK,
    )
    progress(f"Check-ins: POST with the PIN, {clients} clients, {scale.checkin_seconds:g} s")
    load = _drive(
        site.port,
        clients,
        scale.checkin_seconds,
        lambda n: ("POST", _page(members[n].token), {"action": "checkin", "pin": alertdata.PIN}),
        HTTP_OK,
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
        server=f"gunicorn, {livesite.GUNICORN_WORKERS} sync workers, 127.0.0.1",
        clients=clients,
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
    progress("Starting gunicorn, refuge worker and the SMTP sink")
    with livesite.live_site() as site:
        metrics = measure_sos(site, sos_members, scale, progress)
        metrics += measure_checkins(site, checkin_members, scale, progress)
    return metrics
