"""What the reference interpreter runs and what it leaves alone: it shares nothing with the SQL code path,
and it skips (with a note) the journeys the compiler refuses."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime

import pytest

SQL_PATH = (
    "journey_compiler.sqlgen",
    "journey_compiler.ir",
    "journey_compiler.render",
    "journey_compiler.runtime",
)


def test_the_interpreter_imports_nothing_of_the_sql_path():
    """(DuckDB itself is loaded, unused: the filter parser's module imports the warehouse table helpers.)"""
    probe = (
        "import sys, journey_compiler.reference as r; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] == 'dbt' or m.startswith({SQL_PATH!r})))"
    )
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"


HEADER = """
id: {id}
timezone: UTC
active: {{from: "2026-01-01T00:00:00Z"}}
"""
REFUSED = {
    "fanout": (
        "entry:\n  event: {did: {event: signup}}\nnodes:\n  split:\n    segment_split:\n"
        "      mode: all_matches\n      branches: [{segment: vip, to: hello}]\n      else: hello\n",
        "all_matches",
    ),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_journey_using_a_refused_feature_is_skipped_with_a_note(make_ref, name):
    entry, note = REFUSED[name]
    text = HEADER.format(id=name) + entry + "  hello:\n    add_tag: hi\n"
    ref = make_ref({name: text})
    ref.profile("p", lifetime_value=5000.0)
    ref.event("s1", "p", "signup", datetime(2026, 3, 2, 9))
    out = ref.run([datetime(2026, 3, 3)])
    assert note in out.skipped[name]
    assert out.transitions == []


def test_ticks_only_move_forward(make_ref, welcome_yaml):
    ref = make_ref({"welcome_series": welcome_yaml})
    with pytest.raises(ValueError, match="back in time"):
        ref.run([datetime(2026, 3, 3), datetime(2026, 3, 2)])
    # a re-run of the same tick changes nothing
    ref.profile("p")
    ref.event("s1", "p", "signup", datetime(2026, 3, 2, 9))
    once = ref.run([datetime(2026, 3, 3)])
    twice = ref.run([datetime(2026, 3, 3), datetime(2026, 3, 3)])
    assert (once.transitions, once.messages) == (twice.transitions, twice.messages)
