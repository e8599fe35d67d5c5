"""The case list page as hand-written SQL: the floor that the page's time is compared with.

A paginated case list has to do three things in the database, whatever framework renders it:
count the cases the user may see (for the pager), select one page of them with their team, and
fetch the pseudonyms of the people on that page. This module does exactly that through
connection.cursor() and fetches every row, with the same need-to-know rule and filters as
refuge.cases.selectors.case_list and refuge.cases.access:

- coordinators see every case;
- caseworkers and lawyers see the cases of the teams they are on.

Searching matches a case code exactly or a person's pseudonym by fragment, both ignoring case,
as the selector's iexact / icontains lookups do on each database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connection

from refuge.accounts.models import Role, User

TEAM_STAFF = {Role.CASEWORKER, Role.LAWYER}

_CASE_COLUMNS = (
    "c.id, c.created_at, c.updated_at, c.code, c.case_type, c.status, c.risk_level, c.team_id, "
    "c.opened_by_id, c.closed_at, c.data_key_id, c.summary_ct, t.id, t.created_at, t.updated_at, "
    "t.name"
)

_TEAM_CASES = (
    " AND c.team_id IN (SELECT m.team_id FROM accounts_teammembership m WHERE m.user_id = %s)"
)
_CASES_OF_PEOPLE = (
    "SELECT cp.case_id FROM cases_case_people cp"
    " JOIN people_protectedperson p ON p.id = cp.protectedperson_id"
)


@dataclass(frozen=True)
class RawPage:
    count: int
    rows: list[tuple[Any, ...]]
    people: list[tuple[Any, ...]]  # (case id, person id, pseudonym, is_minor)

    @property
    def codes(self) -> list[str]:
        return [row[3] for row in self.rows]


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _visibility(actor: User) -> tuple[str, list[Any]]:
    if actor.role == Role.COORDINATOR:
        return "", []
    if actor.role in TEAM_STAFF:
        user_id = User._meta.pk.get_db_prep_value(actor.pk, connection)
        return _TEAM_CASES, [user_id]
    raise ValueError(f"the raw-SQL baseline covers coordinators and team staff, not {actor.role}")


def _search(query: str) -> tuple[str, list[Any]]:
    pattern = "%" + _like_escape(query) + "%"
    if connection.vendor == "postgresql":
        code_match, person_match = "UPPER(c.code) = UPPER(%s)", "UPPER(p.pseudonym) LIKE UPPER(%s)"
        code_value = query
    else:  # SQLite's LIKE ignores ASCII case, which is how Django spells iexact and icontains there
        code_match = "c.code LIKE %s ESCAPE '\\'"
        person_match = "p.pseudonym LIKE %s ESCAPE '\\'"
        code_value = _like_escape(query)
    sql = f" AND ({code_match} OR c.id IN ({_CASES_OF_PEOPLE} WHERE {person_match}))"
    return sql, [code_value, pattern]


def where_clause(actor: User, params: Mapping[str, str]) -> tuple[str, list[Any]]:
    sql, args = _visibility(actor)
    for name in ("case_type", "status", "risk_level"):
        if params.get(name):
            sql += f" AND c.{name} = %s"
            args.append(params[name])
    query = params.get("q", "").strip()[:40]
    if query:
        search_sql, search_args = _search(query)
        sql += search_sql
        args += search_args
    return "WHERE 1 = 1" + sql, args


def case_page(actor: User, params: Mapping[str, str], *, page_size: int) -> RawPage:
    """Count, one page of cases with their team, and the people on that page; rows fetched."""
    where, args = where_clause(actor, params)
    page = int(params.get("page", "1"))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM cases_case c {where}", args)
        (count,) = cursor.fetchone()
        cursor.execute(
            f"SELECT {_CASE_COLUMNS} FROM cases_case c JOIN accounts_team t ON t.id = c.team_id "
            f"{where} ORDER BY c.created_at DESC LIMIT %s OFFSET %s",
            [*args, page_size, (page - 1) * page_size],
        )
        rows = cursor.fetchall()
        people: list[tuple[Any, ...]] = []
        if rows:
            placeholders = ", ".join(["%s"] * len(rows))
            cursor.execute(
                "SELECT cp.case_id, p.id, p.pseudonym, p.is_minor FROM cases_case_people cp"
                " JOIN people_protectedperson p ON p.id = cp.protectedperson_id"
                f" WHERE cp.case_id IN ({placeholders})",
                [row[0] for row in rows],
            )
            people = cursor.fetchall()
    return RawPage(count=count, rows=rows, people=people)
