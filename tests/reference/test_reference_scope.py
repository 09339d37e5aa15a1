"""What the reference interpreter is: it shares nothing with the SQL code path; ticks only move forward."""

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
