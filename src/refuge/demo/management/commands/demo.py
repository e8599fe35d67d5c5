"""`refuge demo`: migrate, load the reference scenario, then run the web server and the worker
until Ctrl-C. Refuses to run outside demo mode: the demo accounts share a published password."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from refuge.demo import processes, scenario, scenario_alerts, sealed_demo

HOST = "127.0.0.1"
NOT_DEMO_MODE = (
    "refuge demo loads fictional people and staff accounts that share the published password "
    f"'{scenario.DEMO_PASSWORD}', so it only runs in demo mode. Start it with REFUGE_DEMO=1 "
    "(for example: REFUGE_DEMO=1 refuge demo), and never on an instance holding real data."
)


def public_base_url(port: int) -> str:
    """REFUGE_PUBLIC_BASE_URL when it is set; otherwise the address this demo serves at, so the
    links it prints, the links staff issue and those in notifications open the running demo."""
    configured = os.environ.get("REFUGE_PUBLIC_BASE_URL", "").strip()
    return configured.rstrip("/") if configured else f"http://{HOST}:{port}"


def checkin_lines(base_url: str) -> list[str]:
    """The protected people's check-in pages with their PINs: published demo values."""
    lines = [
        _(
            "DEMO VALUES (fictional, published in scenario.md): personal check-in pages, "
            "daily at 21:00 Moscow time, 2 hours' grace:"
        )
    ]
    for link in scenario_alerts.demo_links(base_url):
        if link.live:
            lines.append(
                _("  %(who)s  %(url)s  PIN %(pin)s, duress PIN %(duress)s")
                % {
                    "who": link.pseudonym.ljust(6),
                    "url": link.url,
                    "pin": link.pin,
                    "duress": link.duress_pin,
                }
            )
        else:
            lines.append(
                _(
                    "  %(who)s  the demo link was revoked or re-issued; print a new one with "
                    "`refuge checkin link %(who)s`"
                )
                % {"who": link.pseudonym}
            )
    return lines


class Command(BaseCommand):
    help = "Run Refuge with the reference scenario's demo data (demo mode only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-serve",
            action="store_true",
            help="Migrate and load the demo data, then exit without starting the server.",
        )
        parser.add_argument(
            "--port", type=int, default=8000, help="Port of the web server (default 8000)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEMO_MODE:
            raise CommandError(NOT_DEMO_MODE)
        port = int(options["port"])
        if not 1 <= port <= 65535:  # noqa: PLR2004 - the TCP port range
            raise CommandError("--port must be between 1 and 65535")
        serve = not options["no_serve"]
        if serve and not processes.port_is_free(HOST, port):
            raise CommandError(f"Port {port} on {HOST} is in use; choose another with --port.")
        self.base_url = public_base_url(port)
        if serve:  # the web server and the worker started below inherit it
            os.environ["REFUGE_PUBLIC_BASE_URL"] = self.base_url
        self.stdout.write("Applying database migrations ...")
        call_command("migrate", interactive=False, verbosity=0)
        supervisor = processes.Supervisor({})
        try:
            if settings.KEY_MODE == "sealed":
                sealed_demo.start_keyd(supervisor, self.stdout)
            result = scenario.scenario_load()
            self._report(result)
            if serve:
                self._serve(port, supervisor)
        finally:
            supervisor.stop()

    def _report(self, result: scenario.LoadResult) -> None:
        if result.users_created:
            self.stdout.write(f"Created staff accounts: {', '.join(result.users_created)}")
        if result.story_created:
            self.stdout.write(
                "Loaded the reference scenario: FALCON and BIRCH, FALCON's relatives at risk, "
                f"cases {', '.join(result.cases)}."
            )
        else:
            self.stdout.write("The reference scenario was already loaded; nothing new created.")
        if result.alerts_created:
            self.stdout.write(
                _("Emergency line set up: %(what)s.") % {"what": "; ".join(result.alerts_created)}
            )
        if result.emergency_replayed:
            self.stdout.write(
                _(
                    "Replayed step 3: BIRCH's call at 15:00, the lawyer on site at 15:30 "
                    "(resolved: missing)."
                )
            )
        self.stdout.write("\n".join(checkin_lines(self.base_url)))
        self.stdout.write("\n".join(scenario.totp_lines()))

    def _serve(self, port: int, supervisor: processes.Supervisor) -> None:
        url = f"http://{HOST}:{port}"
        # WhiteNoise serves the static files from inside gunicorn, through the finders, but
        # warns on every start-up when STATIC_ROOT does not exist yet.
        Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
        supervisor.commands = {
            "web server": processes.web_server_command(HOST, port),
            "worker": processes.refuge_command("worker"),
        }
        try:
            supervisor.run(
                ready=lambda: processes.answers_http(HOST, port),
                on_ready=lambda: self._banner(url),
            )
        except processes.ChildFailedError as error:
            raise CommandError(f"Demo stopped: {error}.") from None
        self.stdout.write("Demo stopped.")

    def _banner(self, url: str) -> None:
        width = max(len(name) for name, _role in scenario.STAFF)
        lines = [
            "",
            "=" * 64,
            f"Refuge demo is running at {url}",
            f"Log in as any of these users, password: {scenario.DEMO_PASSWORD}",
        ]
        if settings.KEY_MODE == "sealed":
            lines.append(sealed_demo.BANNER % {"path": settings.DEMO_UNSEAL_FILE})
        lines += [f"  {name.ljust(width)}  {role.label}" for name, role in scenario.STAFF]
        lines += checkin_lines(self.base_url)
        lines += ["Press Ctrl-C to stop the web server and the worker.", "=" * 64, ""]
        self.stdout.write("\n".join(lines))
        self.stdout.flush()
