"""The generators and the comparison themselves, without dbt: every generated project validates and
compiles, the cadence rule for late loads holds, and the comparison sees what it must see."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import timedelta
from pathlib import Path

from diff_harness import journey_files
from diff_report import cadence_view, diff, full_view
from diff_strategies import (
    CADENCE_SHAPE,
    FULL_SHAPE,
    T0,
    batches,
    batches_with_edits,
    first_tick_at_or_after,
    projects,
)
from hypothesis import given, settings

from journey_compiler.config.project import load_project
from journey_compiler.reference.world import ReferenceOutput, Transition
from journey_compiler.render import compile_project

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "shop"


def _compiles(project, root: Path) -> None:
    for part in ("warehouse.yaml", "channels.yaml", "segments", "metrics", "templates"):
        source = EXAMPLES / part
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, root / part)
    (root / "journeys").mkdir()
    for stem, text in journey_files(project).items():
        (root / "journeys" / f"{stem}.yaml").write_text(text)
    compiled = compile_project(load_project(root))
    assert not compiled.skipped
    assert set(compiled.journeys) == set(project)


@settings(max_examples=5)
@given(project=projects(FULL_SHAPE))
def test_generated_journeys_validate_and_compile(project, tmp_path_factory):
    _compiles(project, tmp_path_factory.mktemp("generated"))


@settings(max_examples=10)
@given(batch=batches_with_edits(FULL_SHAPE, parts=(1, 2), worlds=(1, 2)))
def test_edited_journeys_validate_compile_and_change_one_journey_per_part(batch, tmp_path_factory):
    (at, edited), *more = batch.cases[0].edits
    assert not more and at != batch.cases[0].cadences[0][0], "one edit, after the first tick"
    _compiles(edited, tmp_path_factory.mktemp("edited"))
    for _, part in batch.parts:
        changed = [jid for jid in part if edited[jid] != part[jid]]
        assert len(changed) == 1 and set(edited[changed[0]]["nodes"]) <= set(part[changed[0]]["nodes"])


@settings(max_examples=20)
@given(batch=batches(CADENCE_SHAPE, count=2, parts=(1, 3), worlds=(1, 2)))
def test_cadence_cases_load_late_events_before_either_cadence_decides(batch):
    for case in batch.cases:
        seen = {e.event_id: e.loaded for e in reversed(case.world.events)}  # the first delivery of each id
        for event_id, loaded in seen.items():
            at = next(e.event_time for e in case.world.events if e.event_id == event_id)
            assert loaded <= min(first_tick_at_or_after(ticks, at) for ticks in case.cadences)


@settings(max_examples=20)
@given(batch=batches(FULL_SHAPE, count=1, parts=(1, 3), worlds=(1, 2)))
def test_the_parts_of_a_batch_share_no_journey_profile_or_event(batch):
    prefixes = [prefix for prefix, _ in batch.parts]
    assert len(set(prefixes)) == len(prefixes)
    for case in batch.cases:
        assert case.project == {jid: j for _, part in batch.parts for jid, j in part.items()}
        for prefix, part in batch.parts:
            owners = {p.profile_id for p in case.world.profiles if p.profile_id.startswith(prefix or "p")}
            assert all(jid.startswith(prefix) for jid in part)
            assert owners, f"part {prefix!r} has no profile"
        ids = [e.event_id for e in case.world.events]
        assert len({(e.event_id, e.profile_id) for e in case.world.events}) == len(set(ids))


def _transition(**changes) -> Transition:
    base = Transition(T0, T0, "j0", "e1", "p0", None, "n0", None, "entered", None, "v1", "e1")
    return dataclasses.replace(base, **changes)


def test_the_cadence_view_ignores_tick_at_only():
    one = ReferenceOutput(transitions=[_transition()])
    later_tick = ReferenceOutput(transitions=[_transition(tick_at=T0 + timedelta(hours=1))])
    later_logical = ReferenceOutput(transitions=[_transition(logical_at=T0 + timedelta(minutes=5))])
    assert diff("a", cadence_view(one), "b", cadence_view(later_tick)) == ""
    assert "logical_at=03-07 12:05" in diff("a", cadence_view(one), "b", cadence_view(later_logical))
    assert "tick_at=03-07 13:00" in diff("sql", full_view(one), "ref", full_view(later_tick))


def test_a_row_missing_on_one_side_is_reported_with_its_side():
    both = ReferenceOutput(transitions=[_transition(), _transition(entry_id="e2", path_id="e2")])
    one = ReferenceOutput(transitions=[_transition()])
    report = diff("sql", full_view(both), "reference", full_view(one))
    assert report.splitlines() == [
        "transitions:",
        "  only sql: tick_at=03-07 12:00 logical_at=03-07 12:00 journey_id=j0 entry_id=e2 profile_id=p0 "
        "from_node=- to_node=n0 branch=- reason=entered ab_group=- version=v1 path_id=e2",
    ]
