"""Case list and case search: the page through django.test.Client against its raw-SQL floor.

Each metric cycles through a fixed set of scenarios (a coordinator and a team member, with and
without filters, on the first and a later page). Every repetition times one page request and then
the same scenario's raw SQL (bench.rawsql), so both see the same cache state; the ratio is the
page's p95 divided by the raw SQL's p95.

Before timing, one untimed pass checks that each first page answers 200 and shows cases the raw
query says belong on it. If the view is missing, errors, or renders no case, the run stops: a
benchmark of an empty page would be a fake figure.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp_webauthn.models import WebAuthnCredential

from bench import rawsql
from bench.generate import Dataset
from bench.scale import Scale
from bench.stats import Metric, context, metric, p50, p95
from refuge.accounts.models import User

Progress = Callable[[str], None]
URL_NAME = "cases:list"
FILTERS = {"status": "active", "case_type": "legal"}
LATER_PAGE = 10


class BenchmarkError(Exception):
    """The thing to measure is missing or broken; the benchmark refuses to report a figure."""


@dataclass(frozen=True)
class Scenario:
    label: str
    actor: User
    client: Client
    params: dict[str, str]


def _url() -> str:
    try:
        return reverse(URL_NAME)
    except NoReverseMatch:
        raise BenchmarkError(
            f"The case list view (URL name {URL_NAME!r}) does not exist: nothing to measure."
        ) from None


def _last_page(actor: User, params: dict[str, str], page_size: int) -> int:
    count = rawsql.case_page(actor, {**params, "page": "1"}, page_size=page_size).count
    return max(1, -(-count // page_size))


def _pass_second_factor(client: Client, user: User) -> None:
    """Staff pages need a session verified with a second factor (accounts.middleware); the
    benchmark gives its users a passkey (made-up key material) and marks the session with it."""
    device, _created = WebAuthnCredential.objects.get_or_create(
        user=user,
        name="benchmark",
        defaults={"credential_id": os.urandom(32), "public_key": os.urandom(64)},
    )
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


def _actors(dataset: Dataset) -> list[tuple[str, User, Client]]:
    actors = []
    for label, user in (("coordinator", dataset.coordinator), ("member", dataset.member)):
        client = Client()
        client.force_login(user)
        _pass_second_factor(client, user)
        actors.append((label, user, client))
    return actors


def _with_page(actor: User, params: dict[str, str], page: int, page_size: int) -> dict[str, str]:
    return {**params, "page": str(min(page, _last_page(actor, params, page_size)))}


def list_scenarios(dataset: Dataset, page_size: int) -> list[Scenario]:
    scenarios = []
    for label, user, client in _actors(dataset):
        later = _with_page(user, {}, LATER_PAGE, page_size)
        filtered_later = _with_page(user, dict(FILTERS), 2, page_size)
        variants = {
            "all": {},
            "filtered": dict(FILTERS),
            f"page {later['page']}": later,
            f"filtered, page {filtered_later['page']}": filtered_later,
        }
        scenarios += [
            Scenario(f"{label}: {name}", user, client, params) for name, params in variants.items()
        ]
    return scenarios


def _search_terms(user: User, page_size: int) -> tuple[str, str, str]:
    """A pseudonym's word (many matches), a narrower fragment (word, dash, two digits) and a case
    code, all from cases this user can see."""
    first = rawsql.case_page(user, {}, page_size=page_size)
    if not first.rows or not first.people:
        raise BenchmarkError(f"{user.username} sees no case with people: the data set is empty")
    word, number = first.people[0][2].rsplit("-", 1)
    return word, f"{word}-{number[:2]}", first.codes[-1]


def search_scenarios(dataset: Dataset, page_size: int) -> list[Scenario]:
    scenarios = []
    for label, user, client in _actors(dataset):
        word, fragment, code = _search_terms(user, page_size)
        later = _with_page(user, {"q": word}, 2, page_size)
        variants = {
            "pseudonym word": {"q": word},
            "pseudonym fragment": {"q": fragment},
            "case code": {"q": code},
            f"word, page {later['page']}": later,
            "fragment, active": {"q": fragment, "status": "active"},
        }
        scenarios += [
            Scenario(f"{label}: {name}", user, client, params) for name, params in variants.items()
        ]
    return scenarios


def _request(url: str, scenario: Scenario) -> bytes:
    response = scenario.client.get(url, scenario.params)
    if response.status_code != 200:
        raise BenchmarkError(
            f"GET {url} {scenario.params} as {scenario.label} answered {response.status_code}, "
            "not 200: the case list view is missing or broken."
        )
    return response.content


def _check(url: str, scenarios: list[Scenario], page_size: int) -> None:
    """One untimed pass (also the warm-up): every page answers, and first pages show the cases
    the raw query finds for them."""
    for scenario in scenarios:
        body = _request(url, scenario)
        expected = rawsql.case_page(scenario.actor, scenario.params, page_size=page_size)
        if scenario.params.get("page", "1") != "1" or not expected.codes:
            continue
        if not any(code.encode() in body for code in expected.codes):
            raise BenchmarkError(
                f"GET {url} {scenario.params} as {scenario.label} shows none of the "
                f"{len(expected.codes)} cases that belong on that page (e.g. {expected.codes[0]}): "
                "the case list view does not list cases yet, so there is nothing to measure."
            )


@dataclass
class Timings:
    page_ms: list[float]
    raw_ms: list[float]
    by_scenario: dict[str, tuple[list[float], list[float]]]  # label -> (page ms, raw ms)

    def breakdown(self) -> dict[str, dict[str, float]]:
        """Median page and raw-SQL time of each scenario: where a slow p95 comes from."""
        return {
            label: {"page_p50_ms": round(p50(page), 2), "raw_sql_p50_ms": round(p50(raw), 2)}
            for label, (page, raw) in self.by_scenario.items()
            if page  # with fewer repetitions than scenarios, some are never timed
        }


def _measure(url: str, scenarios: list[Scenario], repetitions: int, page_size: int) -> Timings:
    timings = Timings([], [], {s.label: ([], []) for s in scenarios})
    for repetition in range(repetitions):
        scenario = scenarios[repetition % len(scenarios)]
        started = time.perf_counter()
        _request(url, scenario)
        page = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        rawsql.case_page(scenario.actor, scenario.params, page_size=page_size)
        raw = (time.perf_counter() - started) * 1000
        timings.page_ms.append(page)
        timings.raw_ms.append(raw)
        timings.by_scenario[scenario.label][0].append(page)
        timings.by_scenario[scenario.label][1].append(raw)
    return timings


def _metrics(
    prefix: str, scale: Scale, scenarios: list[Scenario], timings: Timings
) -> list[Metric]:
    page_ms, raw_ms = timings.page_ms, timings.raw_ms
    ctx = context(
        scale,
        repetitions=len(page_ms),
        url_name=URL_NAME,
        page_size=settings.PAGE_SIZE,
        scenarios={s.label: s.params for s in scenarios},
        per_scenario=timings.breakdown(),
    )
    return [
        metric(f"{prefix}_p50_ms", p50(page_ms), "ms", ctx),
        metric(f"{prefix}_p95_ms", p95(page_ms), "ms", ctx),
        metric(f"{prefix}_raw_sql_p50_ms", p50(raw_ms), "ms", ctx),
        metric(f"{prefix}_raw_sql_p95_ms", p95(raw_ms), "ms", ctx),
        metric(f"{prefix}_raw_sql_ratio", p95(page_ms) / p95(raw_ms), "x", ctx),
    ]


def measure(dataset: Dataset, scale: Scale, progress: Progress = print) -> list[Metric]:
    url = _url()
    page_size = settings.PAGE_SIZE
    results: list[Metric] = []
    for prefix, build in (("case_list", list_scenarios), ("case_search", search_scenarios)):
        scenarios = build(dataset, page_size)
        _check(url, scenarios, page_size)
        progress(f"  {prefix}: {scale.repetitions} requests over {len(scenarios)} scenarios")
        timings = _measure(url, scenarios, scale.repetitions, page_size)
        results += _metrics(prefix, scale, scenarios, timings)
    return results
