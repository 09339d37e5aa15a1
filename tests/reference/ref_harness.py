"""A fast harness for the reference interpreter: the same journeys directories as the scenario tests
(tests/conftest.py: the shipped warehouse, channels, segments, metrics and templates plus the test's
journeys), the same kind of raw rows, but no dbt and no DuckDB: rows go into a `World`.

A module of its own name, not `conftest`: several test folders have a conftest.py, and `from conftest import`
gets whichever of them was imported last."""

from __future__ import annotations

import ast
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from journey_compiler.config.project import Project, load_project
from journey_compiler.reference import interpret
from journey_compiler.reference.world import (
    Control,
    Event,
    Message,
    MessageEvent,
    Profile,
    ProfileTag,
    ReferenceOutput,
    Relation,
    StateRow,
    Transition,
    World,
)

TESTS = Path(__file__).resolve().parents[1]
EXAMPLES = TESTS.parent / "examples" / "shop"


def scenario_inputs(relative: str) -> dict[str, Any]:
    """The module-level inputs (journey YAML, events, hand-computed expectations, helper functions) of a
    scenario test module, e.g. `scenario_inputs("tick/test_tick_cadence.py")["ONBOARDING"]`, so the reference
    tests give the interpreter literally the same inputs without running the module's DuckDB fixtures.
    Undecorated top-level statements run; imports other than the standard library's, fixtures and tests
    do not."""
    tree = ast.parse((TESTS / relative).read_text())
    kept = [node for node in tree.body if _is_input(node)]
    namespace: dict[str, Any] = {"__file__": str(TESTS / relative)}
    exec(compile(ast.Module(body=kept, type_ignores=[]), relative, "exec"), namespace)  # noqa: S102
    return namespace


def _is_input(node: ast.stmt) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.module in ("datetime", "__future__", "typing", "pathlib")
    if isinstance(node, ast.Import):
        return all(alias.name in ("json", "hashlib") for alias in node.names)
    if isinstance(node, ast.FunctionDef):
        return not node.decorator_list and not node.name.startswith("test")
    return isinstance(node, ast.Assign | ast.AnnAssign | ast.For) and "pytest" not in ast.unparse(node)


def write_project(root: Path, journeys: dict[str, str], extra_files: dict[str, str] | None = None) -> Project:
    """The shipped example directory without its journeys, plus the test's journeys and files."""
    shutil.copytree(EXAMPLES, root, ignore=shutil.ignore_patterns("journeys"))
    (root / "journeys").mkdir()
    files = {f"journeys/{stem}.yaml": text for stem, text in journeys.items()} | (extra_files or {})
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return load_project(root)


@dataclass
class Ref:
    """One project + one world; `run(ticks)` interprets them."""

    project: Project
    world: World = field(default_factory=World)
    out: ReferenceOutput | None = None

    # ------------------------------------------------------------ inputs (as tests/conftest.py's Scenario)

    def profile(self, profile_id: str, *, timezone: str | None = "UTC", **attributes: Any) -> None:
        self.profiles([profile_id], timezone=timezone, **attributes)

    def profiles(self, ids: Iterable[str], *, timezone: str | None = "UTC", **attributes: Any) -> None:
        for pid in ids:
            self.world.profiles.append(
                Profile(
                    pid, f"{pid}@example.test", "+100000", timezone, dict(attributes), datetime(2026, 1, 1)
                )
            )

    def event(
        self,
        event_id: str,
        profile_id: str,
        name: str,
        at: datetime,
        *,
        loaded_at: datetime | None = None,
        **properties: Any,
    ) -> None:
        self.world.events.append(Event(event_id, profile_id, name, at, properties, loaded_at or at))

    def tag(self, profile_id: str, tag: str, at: datetime) -> None:
        self.world.profile_tags.append(ProfileTag(profile_id, tag, at))

    def relation(self, from_id: str, to_id: str, relation: str) -> None:
        self.world.relations.append(Relation(from_id, to_id, relation))

    def control(self, journey_id: str, action: str, at: datetime, value: str | None = None) -> None:
        self.world.controls.append(Control(journey_id, action, at, value))

    def outcome(self, message_id: str, status: str, at: datetime) -> None:
        self.world.message_events.append(MessageEvent(message_id, status, at, "test"))

    # ------------------------------------------------------------ running and outputs

    def run(self, ticks: Sequence[datetime]) -> ReferenceOutput:
        self.out = interpret(self.project, self.world, ticks)
        return self.out

    @property
    def output(self) -> ReferenceOutput:
        assert self.out is not None, "run() first"
        return self.out

    def transitions(self, profile_id: str | None = None) -> list[Transition]:
        rows = [t for t in self.output.transitions if profile_id in (None, t.profile_id)]
        return sorted(rows, key=lambda t: (t.logical_at, t.tick_at, t.from_node or "", t.reason or ""))

    def paths(self, profile_id: str | None = None) -> dict[str, list[tuple[Any, ...]]]:
        """path_id -> (from, to, branch, reason, logical_at) in path order (a path that never forked has its
        entry's id)."""
        out: dict[str, list[tuple[Any, ...]]] = {}
        for t in self.output.transitions:  # appended in path order
            if profile_id in (None, t.profile_id):
                out.setdefault(t.path_id, []).append(
                    (t.from_node, t.to_node, t.branch, t.reason, t.logical_at)
                )
        return out

    def moves(self, profile_id: str) -> list[tuple[Any, ...]]:
        paths = self.paths(profile_id)
        assert len(paths) == 1, f"{profile_id} has {len(paths)} entries"
        return next(iter(paths.values()))

    def entered(self, profile_id: str | None = None, journey_id: str | None = None) -> list[datetime]:
        return [
            t.logical_at
            for t in self.transitions(profile_id)
            if t.reason == "entered" and journey_id in (None, t.journey_id)
        ]

    def state(self, profile_id: str | None = None) -> list[StateRow]:
        rows = [s for s in self.output.state if profile_id in (None, s.profile_id)]
        return sorted(rows, key=lambda s: (s.profile_id, s.entry_at))

    def where(self, profile_id: str) -> tuple[str, str]:
        (state,) = self.state(profile_id)
        return state.node_id, state.status

    def sends(self, profile_id: str | None = None) -> list[Message]:
        rows = [m for m in self.output.messages if profile_id in (None, m.profile_id)]
        return sorted(rows, key=lambda m: (m.profile_id or "", m.created_at, m.node_id))


def cadence_free(out: ReferenceOutput) -> dict[str, set[Any]]:
    """What must not depend on the tick cadence (spec section 3): every output but tick times."""
    keys = ("entry_id", "profile_id", "from_node", "to_node", "branch", "reason", "logical_at")
    return {
        "transitions": {tuple(getattr(t, k) for k in keys) for t in out.transitions},
        "states": set(out.state),
        "sends": set(out.messages),
        "tags": set(out.tags),
        "goals": set(out.goals),
    }


def every(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """The ticks of the scenario harness's `tick_every`: start, start + step, ... before end, then end."""
    ticks = []
    while start < end:
        ticks.append(start)
        start += step
    return [*ticks, end]
