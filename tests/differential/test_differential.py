"""The SQL tick against the reference interpreter (journey_compiler.reference), at one random cadence: the
same transitions (tick_at included), states, messages (id, recipient, not_before, status, suppressed_by),
tags and goals. Message outcomes follow the rule of diff_harness.outcomes_for on both sides. A second test
edits one journey per part in flight (a node removed, a wait changed, or only a new version) at a tick of
the cadence: the SQL side redeploys before that tick, the interpreter takes the edited project from it."""

from __future__ import annotations

import pytest
from diff_harness import SqlEngine, check_batch, interpret_with_outcomes
from diff_profiles import ACTIVE, EDIT_BATCHES
from diff_report import describe_rows, diff, full_view
from diff_strategies import FULL_SHAPE, Batch, Case, batches, batches_with_edits
from hypothesis import event, given, settings

from journey_compiler.reference import interpret

pytestmark = pytest.mark.slow


def check_against_reference(case: Case, engine: SqlEngine) -> None:
    project = engine.use(case.project)
    (ticks,) = case.cadences
    sql = engine.run(case.world, ticks, with_outcomes=True, edits=dict(case.edits))
    reference = interpret_with_outcomes(interpret, project, case.world, ticks, engine.edited)
    if case.edits:  # what the edits reached (--hypothesis-show-statistics)
        reasons = {t.reason for t in sql.transitions if t.tick_at in dict(case.edits)}
        event("an edit left a path on a removed node" if "node_removed" in reasons else "no path was removed")
    difference = diff("sql", full_view(sql), "reference", full_view(reference))
    assert not difference, (
        f"{difference}\nsql transitions:\n{describe_rows(sql)}\n"
        f"reference transitions:\n{describe_rows(reference)}"
    )


@given(batch=batches(FULL_SHAPE, count=1, parts=ACTIVE.parts, worlds=ACTIVE.worlds))
def test_differential(batch: Batch, sql_engine, record_property):
    check_batch(batch, check_against_reference, sql_engine, record_property)


@settings(max_examples=EDIT_BATCHES)
@given(batch=batches_with_edits(FULL_SHAPE, parts=ACTIVE.parts, worlds=ACTIVE.worlds))
def test_differential_with_edits(batch: Batch, sql_engine, record_property):
    check_batch(batch, check_against_reference, sql_engine, record_property)
