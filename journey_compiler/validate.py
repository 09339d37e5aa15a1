"""Cross-file checks that a single model cannot make: the graph, the catalog, and every reference."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

import sqlglot
from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from sqlglot import exp
from sqlglot.errors import ParseError

from journey_compiler.config import journey as j
from journey_compiler.config.project import Origin, Project
from journey_compiler.config.rules import DetailCondition, EventCondition, Rule
from journey_compiler.config.yaml_source import YamlPath
from journey_compiler.errors import ConfigError
from journey_compiler.expressions import check_filter

PROFILE_COLUMNS = ("profile_id", "email", "phone", "timezone")
BUILTIN_METRICS = (
    "entered",
    "exited",
    "completed",
    "sent",
    "delivered",
    "read",
    "clicked",
    "failed",
    "suppressed",
)
CHANNELS = ("email", "sms", "whatsapp", "webhook", "push")


def validate_project(project: Project) -> list[ConfigError]:
    errors: list[ConfigError] = []
    for journey_id, journey in project.journeys.items():
        errors += _Checker(project, project.origin("journeys", journey_id)).journey(journey)
    for segment_id, segment in project.segments.items():
        origin = project.origin("segments", segment_id)
        errors += _Checker(project, origin).rule(segment.rule, ("rule",))
        cycle = _segment_cycle(project, segment_id)
        if cycle:
            errors.append(
                origin.error(("rule",), f"segments refer to each other in a cycle: {' -> '.join(cycle)}")
            )
    for metric_id, metric in project.metrics.items():
        errors += _Checker(project, project.origin("metrics", metric_id)).metric(metric)
    for name, template in project.templates.items():
        errors += _template_syntax(project.origin("templates", name), template.model_dump(exclude_none=True))
    whitelist = project.channels.cap_whitelist
    if whitelist and whitelist not in project.segments:
        errors.append(ConfigError("channels.yaml", "cap_whitelist", f"unknown segment {whitelist!r}"))
    elif whitelist and (left := _left_segment_in(project, Rule(segment=whitelist))) is not None:
        errors.append(ConfigError("channels.yaml", "cap_whitelist", _before_entry("the cap whitelist", left)))
    return errors


class _Checker:
    """Collects the errors of one model (journey, segment or metric), located inside its origin."""

    def __init__(self, project: Project, origin: Origin) -> None:
        self.project = project
        self.origin = origin
        self.errors: list[ConfigError] = []

    def fail(self, path: YamlPath, reason: str) -> None:
        self.errors.append(self.origin.error(path, reason))

    # ---------------------------------------------------------------- references

    def segment(self, name: str, path: YamlPath) -> None:
        if name not in self.project.segments:
            self.fail(path, f"unknown segment {name!r} (known: {_known(self.project.segments)})")

    def event(self, condition: EventCondition, path: YamlPath) -> None:
        declared = self.project.warehouse.events
        unknown = [name for name in condition.names if name not in declared]
        if unknown:
            self.fail(
                path,
                f"unknown event {', '.join(map(repr, unknown))} (declared in warehouse.yaml: "
                f"{_known(declared)})",
            )
            return
        if condition.where is not None:
            shared = set.intersection(*(set(declared[name]) for name in condition.names))
            self.filter(
                condition.where, dict.fromkeys(shared), f"event {'/'.join(condition.names)}", (*path, "where")
            )

    def event_rule(self, rule: j.EventRule, path: YamlPath) -> None:
        """A check's or split branch's `did` / `did_each` / `did_not`."""
        for key in ("did", "did_not"):
            if getattr(rule, key) is not None:
                self.event(getattr(rule, key), (*path, key))
        for i, condition in enumerate(rule.did_each or []):
            self.event(condition, (*path, "did_each", i))

    def filter(self, text: str, declared: dict[str, object], what: str, path: YamlPath) -> None:
        try:
            check_filter(text, declared, what)
        except ValueError as err:
            self.fail(path, str(err))

    def profile_filter(self, text: str, path: YamlPath) -> None:
        declared = dict.fromkeys([*PROFILE_COLUMNS, *self.project.warehouse.attributes])
        self.filter(text, declared, "profiles (attributes in warehouse.yaml)", path)

    def detail(self, condition: DetailCondition, path: YamlPath) -> None:
        table = self.project.warehouse.details.get(condition.table)
        if table is None:
            self.fail(
                (*path, "table"),
                f"unknown detail table {condition.table!r} "
                f"(declared: {_known(self.project.warehouse.details)})",
            )
            return
        columns = dict.fromkeys([*table.columns, table.profile, table.time])
        if condition.column not in columns:
            key = "count" if condition.count is not None else "sum"
            self.fail((*path, key), f"unknown column {condition.column!r} of {condition.table}")
        elif condition.sum is not None and table.columns.get(condition.sum) not in (
            "double",
            "bigint",
            "integer",
        ):
            self.fail((*path, "sum"), f"column {condition.sum!r} is not numeric")
        if condition.where is not None:
            self.filter(condition.where, columns, f"detail table {condition.table}", (*path, "where"))

    def channel(self, channel: str, path: YamlPath) -> None:
        if channel not in self.project.channels.channels:
            self.fail(path, f"channel {channel!r} is not configured in channels.yaml")

    def template(self, name: str, channel: str, path: YamlPath) -> None:
        template = self.project.templates.get(name)
        if template is None:
            self.fail(path, f"unknown template {name!r} (known: {_known(self.project.templates)})")
        elif template.channel != channel:
            self.fail(path, f"template {name!r} is for channel {template.channel!r}, not {channel!r}")

    def rule(self, rule: Rule, path: YamlPath) -> list[ConfigError]:
        for sub, sub_path in _rule_parts(rule, path):
            if sub.segment is not None:
                self.segment(sub.segment, (*sub_path, "segment"))
            if sub.left_segment is not None:
                self.segment(sub.left_segment, (*sub_path, "left_segment"))
            if sub.where is not None:
                self.profile_filter(sub.where, (*sub_path, "where"))
            for key in ("did", "did_not"):
                if (condition := getattr(sub, key)) is not None:
                    self.event(condition, (*sub_path, key))
            if sub.detail is not None:
                self.detail(sub.detail, (*sub_path, "detail"))
        return self.errors

    def asked_before_entry(self, rule: Rule, path: YamlPath, what: str) -> None:
        """A rule asked of profiles that have not entered (a trigger, an audience, a send's blacklist or
        whitelist) cannot use `left_segment`, which compares with the path's entry."""
        if (left := _left_segment_in(self.project, rule)) is not None:
            self.fail(path, _before_entry(what, left))

    # ---------------------------------------------------------------- journeys

    def journey(self, journey: j.Journey) -> list[ConfigError]:
        self.graph(journey)
        self.entry(journey.entry)
        for i, rule in enumerate(journey.exit_when):
            self.rule(rule, ("exit_when", i))
        for i, goal in enumerate(journey.goals):
            if goal.did is not None:
                self.event(goal.did, ("goals", i, "did"))
            if goal.detail is not None:
                self.detail(goal.detail, ("goals", i, "detail"))
        for i, metric in enumerate(journey.metrics):
            if metric not in self.project.metrics:
                self.fail(
                    ("metrics", i), f"unknown metric {metric!r} (known: {_known(self.project.metrics)})"
                )
        for i, other in enumerate(journey.exclusive_with):
            if other not in self.project.journeys or other == journey.id:
                self.fail(("exclusive_with", i), f"unknown journey {other!r}")
        for node_id, node in journey.nodes.items():
            self.node(journey, node_id, node)
        return self.errors

    def entry(self, entry: j.Entry) -> None:
        if entry.event is not None:
            if entry.event.did is not None:
                self.event(entry.event.did, ("entry", "event", "did"))
            for i, condition in enumerate(entry.event.each or []):
                self.event(condition, ("entry", "event", "each", i))
        if entry.event_without is not None:
            self.event(entry.event_without.did, ("entry", "event_without", "did"))
            self.event(entry.event_without.then_not, ("entry", "event_without", "then_not"))
        if entry.segment is not None:
            self.segment(entry.segment, ("entry", "segment"))
            self.asked_before_entry(Rule(segment=entry.segment), ("entry", "segment"), "the segment trigger")
        if entry.audience is not None:
            self.rule(entry.audience, ("entry", "audience"))
            self.asked_before_entry(entry.audience, ("entry", "audience"), "the audience")
        if entry.where is not None:
            self.profile_filter(entry.where, ("entry", "where"))

    def graph(self, journey: j.Journey) -> None:
        if journey.start is not None and journey.start not in journey.nodes:
            self.fail(("start",), f"unknown node {journey.start!r} (nodes: {_known(journey.nodes)})")
        for node_id, node in journey.nodes.items():
            for _, target, sub in node.edges():
                if target not in journey.nodes:
                    self.fail(
                        ("nodes", node_id, *sub), f"unknown node {target!r} (nodes: {_known(journey.nodes)})"
                    )
        cycle = _graph_cycle(journey)
        if cycle:
            self.fail(("nodes", cycle[0]), f"the graph has a cycle: {' -> '.join(cycle)}")

    def node(self, journey: j.Journey, node_id: str, node: object) -> None:
        path: YamlPath = ("nodes", node_id)
        match node:
            case j.SendNode(send=send) as sender:
                self.channel(send.channel, (*path, "send", "channel"))
                self.template(send.template, send.channel, (*path, "send", "template"))
                for key in ("blacklist", "cap_whitelist"):
                    if getattr(send, key) is not None:
                        self.segment(getattr(send, key), (*path, "send", key))
                        self.asked_before_entry(Rule(segment=getattr(send, key)), (*path, "send", key), key)
                outcomes = [k for k in ("on_sent", "on_failed", "on_suppressed") if getattr(sender, k)]
                if send.subject is not None and send.subject.pick == "all" and outcomes:
                    self.fail(
                        (*path, "send", "subject", "pick"),
                        f"`pick: all` sends several messages from one path, which then cannot follow "
                        f"{outcomes[0]} (whose outcome?): use `pick: one`, or drop the outcome branches",
                    )
            case j.SegmentCheckNode(segment_check=rule):
                self.rule(rule, (*path, "segment_check"))
            case j.SegmentSplitNode(segment_split=spec):
                for i, branch in enumerate(spec.branches):
                    self.rule(branch, (*path, "segment_split", "branches", i))
                if spec.mode == "all_matches":
                    self.fan_out(journey, node_id, spec)
            case j.EventCheckNode(event_check=spec):
                self.event_rule(spec, (*path, "event_check"))
            case j.EventSplitNode(event_split=spec):
                for i, branch in enumerate(spec.branches):
                    self.event_rule(branch, (*path, "event_split", "branches", i))
            case j.WaitForEventNode(wait_for_event=spec):
                self.event(spec, (*path, "wait_for_event"))
            case j.MessageStatusNode(message_status=spec):
                sender = journey.nodes.get(spec.of)
                if not isinstance(sender, j.SendNode):
                    self.fail(
                        (*path, "message_status", "of"), f"{spec.of!r} is not a send node of this journey"
                    )
                elif spec.of not in _reachable(journey, node_id, forward=False):
                    self.fail(
                        (*path, "message_status", "of"),
                        f"send node {spec.of!r} does not come before {node_id!r}",
                    )
            case j.AbRaceNode(ab_race=spec):
                if spec.notify is not None:
                    self.channel(spec.notify.channel, (*path, "ab_race", "notify", "channel"))
                    self.template(
                        spec.notify.template, spec.notify.channel, (*path, "ab_race", "notify", "template")
                    )
                races = [n for n, other in journey.nodes.items() if isinstance(other, j.AbRaceNode)]
                if races.index(node_id) > 0:
                    self.fail(path, f"a journey has at most one ab_race (the first is {races[0]!r})")

    def fan_out(self, journey: j.Journey, node_id: str, spec: j.SegmentSplitSpec) -> None:
        """docs/semantics.md, "all_matches: one entry, several paths": the branches' sub-graphs share no
        node, so below the split each node sees at most one path of an entry (`else` is never taken with a
        branch, so it may lead anywhere)."""
        reached: dict[str, int] = {}
        for i, branch in enumerate(spec.branches):
            below = [branch.to, *_reachable(journey, branch.to, forward=True)]
            shared = [n for n in below if n in reached]
            if shared:
                self.fail(
                    ("nodes", node_id, "segment_split", "branches", i, "to"),
                    f"all_matches branches {reached[shared[0]] + 1} and {i + 1} both lead to node "
                    f"{shared[0]!r}: the paths of one entry must not rejoin",
                )
            reached |= {n: reached.get(n, i) for n in below}

    # ---------------------------------------------------------------- metrics

    def metric(self, metric: object) -> list[ConfigError]:
        from journey_compiler.config.segments import Metric

        assert isinstance(metric, Metric)
        if metric.event is not None:
            self.event(metric.event, ("event",))
        if metric.detail is not None:
            self.detail(metric.detail, ("detail",))
        if metric.composite is not None:
            goals = {f"goal_{g.id}" for jr in self.project.journeys.values() for g in jr.goals}
            known = {*self.project.metrics, *BUILTIN_METRICS, *(f"sent_{c}" for c in CHANNELS), *goals}
            try:
                tree = sqlglot.parse_one(metric.composite)
            except ParseError:
                self.fail(("composite",), f"cannot parse {metric.composite!r}")
                return self.errors
            allowed = (
                exp.Column,
                exp.Identifier,
                exp.Literal,
                exp.Paren,
                exp.Add,
                exp.Sub,
                exp.Mul,
                exp.Div,
                exp.Neg,
            )
            if any(not isinstance(node, allowed) for node in tree.walk()):
                self.fail(("composite",), "only metric names, numbers, + - * / and parentheses are allowed")
            unknown = sorted({c.name for c in tree.find_all(exp.Column)} - known)
            if unknown:
                self.fail(("composite",), f"unknown metric {', '.join(map(repr, unknown))}")
        return self.errors


def _known(names: object) -> str:
    return ", ".join(sorted(names)) or "none"  # type: ignore[call-overload]


def _rule_parts(rule: Rule, path: YamlPath) -> Iterator[tuple[Rule, YamlPath]]:
    yield rule, path
    for key in ("all", "any"):
        for i, sub in enumerate(getattr(rule, key) or []):
            yield from _rule_parts(sub, (*path, key, i))
    if rule.not_ is not None:
        yield from _rule_parts(rule.not_, (*path, "not"))


def _left_segment_in(project: Project, rule: Rule) -> str | None:
    """The first segment the rule asks `left_segment` of, directly or through the segments it names."""
    return next((part.left_segment for part in project.rule_parts(rule) if part.left_segment), None)


def _before_entry(what: str, left: str) -> str:
    return (
        f"{what} is asked of profiles that have not entered, so it cannot use `left_segment: {left}` (that "
        "compares with the path's entry: use it in exit_when, segment_check or segment_split)"
    )


def _segment_refs(rule: Rule) -> set[str]:
    return {name for sub, _ in _rule_parts(rule, ()) for name in (sub.segment, sub.left_segment) if name}


def _segment_cycle(project: Project, start: str) -> list[str]:
    def walk(name: str, trail: list[str]) -> list[str]:
        segment = project.segments.get(name)
        for ref in sorted(_segment_refs(segment.rule)) if segment else []:
            if ref == start:
                return [*trail, ref]
            if ref not in trail:
                found = walk(ref, [*trail, ref])
                if found:
                    return found
        return []

    return walk(start, [start])


def _graph_cycle(journey: j.Journey) -> list[str]:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(node_id: str, trail: list[str]) -> list[str]:
        state[node_id] = 1
        node = journey.nodes.get(node_id)
        for target in node.successors().values() if node else []:
            if state.get(target) == 1:
                return [*trail[trail.index(target) :], target]
            if target in journey.nodes and target not in state:
                found = visit(target, [*trail, target])
                if found:
                    return found
        state[node_id] = 2
        return []

    for node_id in journey.nodes:
        if node_id not in state:
            found = visit(node_id, [node_id])
            if found:
                return found
    return []


def _reachable(journey: j.Journey, node_id: str, forward: bool) -> list[str]:
    """The nodes reachable from `node_id` by its edges (`forward`) or against them (its ancestors),
    nearest first."""
    neighbours: dict[str, list[str]] = {}
    for source, node in journey.nodes.items():
        for target in node.successors().values():
            if forward:
                neighbours.setdefault(source, []).append(target)
            else:
                neighbours.setdefault(target, []).append(source)
    seen: dict[str, None] = {}
    queue = deque([node_id])
    while queue:
        for neighbour in neighbours.get(queue.popleft(), ()):
            if neighbour not in seen:
                seen[neighbour] = None
                queue.append(neighbour)
    return list(seen)


def _template_syntax(origin: Origin, fields: dict[str, object]) -> list[ConfigError]:
    env = SandboxedEnvironment()
    errors = []

    def check(value: object, path: YamlPath) -> None:
        if isinstance(value, str):
            try:
                env.parse(value)
            except TemplateSyntaxError as err:
                errors.append(origin.error(path, f"template syntax error: {err.message}"))
        elif isinstance(value, dict):
            for key, sub in value.items():
                check(sub, (*path, key))
        elif isinstance(value, list):
            for i, sub in enumerate(value):
                check(sub, (*path, i))

    check(fields, ())
    return errors
