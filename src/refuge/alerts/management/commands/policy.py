"""`refuge policy`: escalation policies from the command line.

    refuge policy list
    refuge policy show NAME
    refuge policy create-default [--rota NAME]

Policies are edited on the "Alerts setup" pages or over the API. `create-default` sets up a
sensible first policy when there is no default yet: the on-call operator at once, the case's
lawyer 5 minutes after the alert, the coordinators after 10 and the whole case team after 15.
Its first step pages the rota given with --rota, else the only rota; when there is none, it
creates "On-call operators" with every active operator, in weekly shifts from today.
Whoever runs this has a shell on the server, so it acts as the system (audited as "system").
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from refuge.accounts.models import Role, User
from refuge.alerts import selectors
from refuge.alerts.management.commands.rota import fail, rota_named
from refuge.alerts.models import EscalationPolicy, EscalationStep, OnCallRota
from refuge.alerts.services import setup as services
from refuge.core import clock
from refuge.core.errors import DomainError

DEFAULT_NAME = "Default"
DEFAULT_ROTA = "On-call operators"
Target = EscalationStep.Target
# (who, minutes after the step before): at once, then +5, +10 and +15 minutes after the alert.
DEFAULT_STEPS = (
    (Target.ON_CALL, 0),
    (Target.CASE_LAWYER, 5),
    (Target.COORDINATORS, 5),
    (Target.CASE_TEAM, 5),
)


def _describe(policy: EscalationPolicy) -> list[str]:
    default = " (default)" if policy.is_default else ""
    head = f"{policy.name}{default}: repeat {policy.repeat}, "
    lines = [head + f"on the way within {policy.en_route_within_minutes} min"]
    for step, minutes in selectors.fires_after(list(policy.steps.all())):
        whom = step.get_target_display()
        if step.rota is not None:
            whom += f" of {step.rota.name}"
        if step.user is not None:
            whom += f" {step.user.get_username()}"
        at = "at once" if minutes == 0 else f"+{minutes} min"
        kinds = ", ".join(step.channel_kinds) or "their own channels"
        lines.append(f"  {step.position + 1}. {at:>9}  {whom}  via {kinds}")
    if not policy.steps.all():
        lines.append("  (no steps: nobody is paged)")
    return lines


class Command(BaseCommand):
    help = "List and show escalation policies; create a sensible default one."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="Every policy, the default first.")
        show = sub.add_parser("show", help="A policy's steps and when each fires.")
        show.add_argument("name")
        default = sub.add_parser("create-default", help="Create a default policy if none exists.")
        default.add_argument("--rota", help="The rota whose on-call operator is paged first.")

    def handle(self, *args: Any, **options: Any) -> None:
        del args
        action = options["action"]
        if action == "list":
            policies = selectors.policy_list(actor=None)
            if not policies:
                self.stderr.write("There are no policies yet: `refuge policy create-default`.")
            for policy in policies:
                self.stdout.write(_describe(policy)[0])
        elif action == "show":
            found = selectors.policy_get_by_name(actor=None, name=options["name"])
            if found is None:
                raise CommandError(f"There is no policy called {options['name'][:100]!r}.")
            self.stdout.write("\n".join(_describe(found)))
        else:
            self._create_default(options["rota"])

    def _create_default(self, rota_name: str | None) -> None:
        existing = selectors.policy_default(actor=None)
        if existing is not None:
            self.stdout.write(f"The default policy is already {existing.name}; nothing to do.")
            return
        try:
            with transaction.atomic():  # all or nothing: no half-built policy or rota
                rota = self._rota(rota_name)
                policy = services.policy_create(actor=None, name=DEFAULT_NAME, is_default=True)
                for target, delay in DEFAULT_STEPS:
                    services.step_add(
                        actor=None,
                        policy=policy,
                        target=target,
                        delay_minutes=delay,
                        rota=rota if target == Target.ON_CALL else None,
                    )
        except DomainError as error:
            raise fail(error) from None
        policy = selectors.policy_get(actor=None, policy_id=policy.pk)
        self.stdout.write("Created the default policy:\n" + "\n".join(_describe(policy)))

    def _rota(self, name: str | None) -> OnCallRota:
        if name:
            return rota_named(name)
        rotas = list(selectors.rota_choices(actor=None)[:2])
        if len(rotas) == 1:
            return rotas[0]
        if rotas:
            raise CommandError("There are several rotas: choose one with --rota NAME.")
        today = timezone.localtime(clock.now()).replace(hour=0, minute=0, second=0, microsecond=0)
        rota = services.rota_create(actor=None, name=DEFAULT_ROTA, starts_on=today, shift_days=7)
        operators = selectors.pageable_staff(actor=None).filter(role=Role.OPERATOR)
        added: list[User] = []
        for operator in operators:
            services.rota_member_add(actor=None, rota=rota, user=operator)
            added.append(operator)
        names = ", ".join(u.get_username() for u in added) or "nobody yet: add operators"
        self.stdout.write(
            f"Created rota {rota.name} (weekly from {today:%Y-%m-%d %H:%M %Z}): {names}."
        )
        return rota
