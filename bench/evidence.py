"""Evidence intake and download: throughput, and memory that does not grow with the file.

A multipart upload is sent through Django's whole request path (the request handler, middleware,
the evidence upload handler, the API endpoint) from a request body that is generated while it is
read, so the benchmark itself never holds the file. It is the real route clients use:
`POST /api/v1/cases/<id>/evidence/upload`, authenticated with an API token.

Metrics:
- evidence_upload_mb_per_s: the large upload (200 MB by default), without tracing.
- evidence_download_mb_per_s: the same file downloaded (the whole-file check, then the stream).
- evidence_upload_peak_mib, evidence_upload_small_peak_mib: peak Python memory (tracemalloc)
  during the large and a small (20 MB) upload.
- evidence_upload_memory_ratio: large ÷ small peak. About 1 means memory does not grow with the
  file's size (a tenfold larger file costs no more memory); 10 would mean it is held whole.
The process's maximum RSS (ru_maxrss) is in the context; it includes Django and the libraries.
"""

from __future__ import annotations

import io
import os
import resource
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

from bench.scale import Scale
from bench.stats import Metric, context, metric

MB = 1_000_000
MIB = 1 << 20
BOUNDARY = "refuge-bench-boundary-5b1d"
_FILL = os.urandom(MIB)


class GeneratedBody(io.RawIOBase):
    """A multipart body of `size` file bytes, produced as it is read (wsgi.input)."""

    def __init__(self, size: int) -> None:
        self._head = (
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="file"; filename="bench.mp4"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        self._tail = f"\r\n--{BOUNDARY}--\r\n".encode()
        self.size = size
        self.length = len(self._head) + size + len(self._tail)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def _byte_source(self, start: int, count: int) -> bytes:
        head_end = len(self._head)
        file_end = head_end + self.size
        out = bytearray()
        pos = start
        while count > 0 and pos < self.length:
            if pos < head_end:
                piece = self._head[pos - 0 : pos + count]
            elif pos < file_end:
                offset = (pos - head_end) % MIB
                piece = _FILL[offset : offset + min(count, file_end - pos)]
            else:
                piece = self._tail[pos - file_end : pos - file_end + count]
            out += piece
            pos += len(piece)
            count -= len(piece)
        return bytes(out)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self.length - self._pos
        data = self._byte_source(self._pos, size)
        self._pos += len(data)
        return data

    def readline(self, size: int = -1) -> bytes:  # WSGI allows it; the parser never uses it
        return self.read(size)


@dataclass(frozen=True)
class Fixture:
    case_id: str
    token: str


def _setup() -> Fixture:
    from refuge.accounts import tokens
    from refuge.accounts.models import Role, Team, User
    from refuge.cases.models import Case, CaseType
    from refuge.core.ids import random_code

    team = Team.objects.create(name=f"Evidence bench {random_code('T')}")
    user = User.objects.create(username=f"evidence-bench-{random_code('U')}", role=Role.COORDINATOR)
    case = Case.objects.create(code=random_code("E"), case_type=CaseType.DOCUMENTATION, team=team)
    _token, plaintext = tokens.token_create(actor=None, user=user, name="evidence bench")
    return Fixture(case_id=str(case.pk), token=plaintext)


def _upload(fixture: Fixture, size: int) -> str:
    """One upload through the WSGI handler; returns the new file's id."""
    import json

    from django.test.client import ClientHandler

    body = GeneratedBody(size)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": f"/api/v1/cases/{fixture.case_id}/evidence/upload",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "HTTP_AUTHORIZATION": f"Bearer {fixture.token}",
        "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}",
        "CONTENT_LENGTH": str(body.length),
        "wsgi.input": body,
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    # Django's test handler: the same middleware, upload handler and endpoint as the WSGI
    # handler, without closing the database connection after each request.
    response = ClientHandler()(environ)
    if response.status_code != 201:
        from bench.caselist import BenchmarkError

        raise BenchmarkError(
            f"evidence upload answered {response.status_code}: {response.content[:300]!r}"
        )
    return str(json.loads(response.content)["id"])


def _download(evidence_id: str) -> int:
    from refuge.evidence import selectors, services

    evidence = selectors.evidence_by_id(evidence_id)
    if evidence is None:
        raise LookupError(evidence_id)
    return sum(len(b) for b in services.evidence_download(actor=None, evidence=evidence))


def _peak_mib(action: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1] / MIB
    finally:
        tracemalloc.stop()


def _remove_files() -> None:
    from refuge.evidence import storage

    for path in storage.root().glob("*.bin"):
        path.unlink()


def measure(
    scale: Scale,
    progress: Callable[[str], None],
    *,
    large: int = 200 * MB,
    small: int = 20 * MB,
) -> list[Metric]:
    fixture = _setup()
    _upload(fixture, 1000)  # warm-up: the first request imports the URLconf and the API
    progress(f"  upload of {large / MB:.0f} MB through the upload handler")
    started = time.perf_counter()
    evidence_id = _upload(fixture, large)
    upload_s = time.perf_counter() - started
    started = time.perf_counter()
    downloaded = _download(evidence_id)
    download_s = time.perf_counter() - started
    if downloaded != large:
        from bench.caselist import BenchmarkError

        raise BenchmarkError(f"downloaded {downloaded} bytes of {large}")
    progress(f"  peak memory of a {small / MB:.0f} MB and a {large / MB:.0f} MB upload")
    small_peak = _peak_mib(lambda: _upload(fixture, small))
    large_peak = _peak_mib(lambda: _upload(fixture, large))
    _remove_files()
    ctx = context(
        scale,
        repetitions=1,
        large_bytes=large,
        small_bytes=small,
        upload_seconds=round(upload_s, 3),
        download_seconds=round(download_s, 3),
        max_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    )
    return [
        metric("evidence_upload_mb_per_s", large / MB / upload_s, "MB/s", ctx),
        metric("evidence_download_mb_per_s", large / MB / download_s, "MB/s", ctx),
        metric("evidence_upload_peak_mib", large_peak, "MiB", ctx),
        metric("evidence_upload_small_peak_mib", small_peak, "MiB", ctx),
        metric("evidence_upload_memory_ratio", large_peak / small_peak, "×", ctx),
    ]
