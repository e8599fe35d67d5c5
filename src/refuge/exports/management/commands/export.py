"""`refuge export list|expire`: unredacted export requests from the server's command line.

Metadata only (who, when, scope, status): never the purpose, the reason or any exported data.
Exports themselves are made from the web page or the API, where the two-person rule applies.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from refuge.exports import selectors, services
from refuge.exports.models import ExportStatus


def _when(value: Any) -> str:
    return value.isoformat(timespec="minutes") if value else "-"


class Command(BaseCommand):
    help = "List unredacted export requests (metadata only), or expire overdue ones now."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="List export requests, newest first.")
        listing.add_argument(
            "--status",
            default="",
            help=f"Only requests in this status: {', '.join(ExportStatus.values)}.",
        )
        sub.add_parser("expire", help="Expire overdue requests now (the worker does it hourly).")

    def handle(self, *args: Any, **options: Any) -> None:
        del args
        if options["action"] == "list":
            self._list(options["status"])
        else:
            count = services.export_requests_expire()
            self.stdout.write(f"{count} request(s) expired")

    def _list(self, status: str) -> None:
        if status and status not in ExportStatus.values:
            raise CommandError(
                f"Unknown status {status!r}; choose one of {', '.join(ExportStatus.values)}."
            )
        requests = selectors.export_requests_for_system(status=status)
        if not requests:
            self.stdout.write("no export requests")
            return
        self.stdout.write("id\tstatus\trequested by\trequested at\tscope\tdecided by\texpires at")
        for request in requests:
            scope = (
                f"team {request.team.name}"
                if request.team
                else f"{getattr(request, 'case_count', 0)} case(s)"
            )
            decided_by = request.decided_by.get_username() if request.decided_by else "-"
            self.stdout.write(
                "\t".join(
                    [
                        str(request.pk),
                        request.status,
                        request.requested_by.get_username(),
                        _when(request.requested_at),
                        scope,
                        decided_by,
                        _when(request.expires_at),
                    ]
                )
            )
