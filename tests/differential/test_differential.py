"""The SQL tick against the reference interpreter (journey_compiler.reference), at one random cadence: the
same transitions (tick_at included), states, messages (id, recipient, not_before, status, suppressed_by),
tags and goals. Message outcomes follow the rule of diff_harness.outcomes_for on both sides."""

from __future__ import annotations

import pytest
from diff_harness import SqlEngine, check_batch, interpret_with_outcomes
from diff_profiles import ACTIVE
from diff_report import describe_rows, diff, full_view
from diff_strategies import FULL_SHAPE, Batch, Case, batches
from hypothesis import given

from journey_compiler.reference import interpret

pytestmark = pytest.mark.slow


def check_against_reference(case: Case, engine: SqlEngine) -> None:
    project = engine.use(case.project)
    (ticks,) = case.cadences
    sql = engine.run(case.world, ticks, with_outcomes=True)
    reference = interpret_with_outcomes(interpret, project, case.world, ticks)
    assert not reference.skipped, f"the interpreter refused a generated journey: {reference.skipped}"
    difference = diff("sql", full_view(sql), "reference", full_view(reference))
    assert not difference, (
        f"{difference}\nsql transitions:\n{describe_rows(sql)}\n"
        f"reference transitions:\n{describe_rows(reference)}"
    )


@given(batch=batches(FULL_SHAPE, count=1, parts=ACTIVE.parts, worlds=ACTIVE.worlds))
def test_differential(batch: Batch, sql_engine, record_property):
    check_batch(batch, check_against_reference, sql_engine, record_property)
