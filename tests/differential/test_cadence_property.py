"""Cadence as a property (spec section 3): the same inputs ticked by the SQL engine at two random cadences
give the same transitions, states, messages, tags and goals; only tick_at may differ. The journeys'
branches depend on events and time alone (no message outcomes, no segment over a journey's own tags)."""

from __future__ import annotations

import pytest
from diff_harness import SqlEngine, check_batch
from diff_profiles import ACTIVE, CADENCE_BATCHES
from diff_report import cadence_view, describe_rows, diff
from diff_strategies import CADENCE_SHAPE, Batch, Case, batches
from hypothesis import given, settings

pytestmark = pytest.mark.slow


def check_cadences(case: Case, engine: SqlEngine) -> None:
    engine.use(case.project)
    outputs = [engine.run(case.world, ticks, with_outcomes=False) for ticks in case.cadences]
    views = [cadence_view(output) for output in outputs]
    difference = diff("cadence 0", views[0], "cadence 1", views[1])
    assert not difference, (
        f"{difference}\ncadence 0 transitions:\n{describe_rows(outputs[0])}\n"
        f"cadence 1 transitions:\n{describe_rows(outputs[1])}"
    )


@settings(max_examples=CADENCE_BATCHES)
@given(batch=batches(CADENCE_SHAPE, count=2, parts=ACTIVE.parts, worlds=ACTIVE.worlds))
def test_cadence_property(batch: Batch, sql_engine, record_property):
    check_batch(batch, check_cadences, sql_engine, record_property)
