"""Fuzzing of every parser of outside input with Hypothesis, on a bounded budget.

FUZZ is the budget of each property: enough examples to reach the parsers' branches in CI on
both databases (the whole directory runs in about a minute), derandomised so a failure
reproduces, without Hypothesis' example database (the runs leave no files behind). A longer run
for a release: `pytest tests/fuzz --hypothesis-seed=N -p no:randomly` after raising
MAX_EXAMPLES locally.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

MAX_EXAMPLES = 60

FUZZ = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    # The database fixtures are function-scoped on purpose: each property checks itself that a
    # refused input changed nothing, example by example.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text an attacker controls: any Unicode (NUL, lone surrogates excluded only where the transport
# cannot carry them), Cyrillic, digits and the command words mixed in.
hostile_text = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=60),
    st.from_regex(
        r"(?i)(/?(sos|checkin|cancel|ack|start|сос|отмена|принято)\s*)?[0-9a-zа-я\s]{0,20}"
    ),
    st.sampled_from(["", " ", "\x00", "\u202e", "9" * 5000, "/start", "ack E-ZZZZ", "CHECKIN"]),
)
