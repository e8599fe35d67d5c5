"""The SMTP sink of the live-site benchmarks, run in a process of its own (bench.livesite).

It imports nothing of Django or Refuge: the benchmark starts it with multiprocessing's "spawn",
which imports this module afresh in the new interpreter.
"""

from __future__ import annotations

import time
from multiprocessing.connection import Connection


def serve(port: int, out: Connection) -> None:
    """The SMTP sink's own process: accept every message, send (when, raw) to the benchmark.

    A process of its own, as a mail relay is: inside the benchmark it would share one
    interpreter lock with the 50 threads sending SOS, and each SMTP reply would wait for them,
    which is the benchmark's load, not the server's latency."""
    import asyncio
    import logging

    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # a line per SMTP command otherwise

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
            del server, session
            content = envelope.content
            raw = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
            out.send((time.monotonic(), time.time(), raw))  # CLOCK_MONOTONIC: one per host
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    out.send(None)  # listening
    try:
        asyncio.run(asyncio.sleep(10**9))
    finally:
        controller.stop()
