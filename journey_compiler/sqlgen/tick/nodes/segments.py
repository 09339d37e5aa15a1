"""`segment_check` / `segment_split`: is the profile in the segment(s) the moment it arrives?"""

from __future__ import annotations

from sqlglot import exp

from journey_compiler.config import journey as cfg
from journey_compiler.config.rules import Rule
from journey_compiler.ir import Step
from journey_compiler.sqlgen.ast import col, lit, union_all
from journey_compiler.sqlgen.ids import stable_id
from journey_compiler.sqlgen.tick.builder import TickSql
from journey_compiler.sqlgen.tick.paths import PATH_COLUMNS, Answer, instant


def segment_check(tick: TickSql, step: Step) -> Answer:
    member = _member(tick, step, step.node_as(cfg.SegmentCheckNode).segment_check)
    return Answer(
        instant(f"at_{step.id}", exp.Case(ifs=[exp.If(this=member, true=lit("then"))], default=lit("else")))
    )


def segment_split(tick: TickSql, step: Step) -> Answer:
    """`first_match`: the first matching branch wins; `all_matches`: every matching branch (fan_out); no
    match takes `else`."""
    spec = step.node_as(cfg.SegmentSplitNode).segment_split
    if spec.mode == "all_matches":
        return _fan_out(tick, step, spec)
    ifs = [
        exp.If(this=_member(tick, step, rule), true=lit(f"branch_{i + 1}"))
        for i, rule in enumerate(spec.branches)
    ]
    return Answer(instant(f"at_{step.id}", exp.Case(ifs=ifs, default=lit("else"))))


def _fan_out(tick: TickSql, step: Step, spec: cfg.SegmentSplitSpec) -> Answer:
    """One row per matching branch (`else` when none): the first keeps the arriving path, each further one
    is a fork with its own path id, md5(path : node : branch) (docs/semantics.md, "all_matches")."""
    at = f"at_{step.id}"
    matched = tick.cte(
        f"matched_{step.id}",
        exp.select(
            f"{at}.*",
            # a rule on a missing attribute is NULL: not a match
            *(
                exp.alias_(exp.func("COALESCE", _member(tick, step, rule), exp.false()), f"m{i}")
                for i, rule in enumerate(spec.branches)
            ),
        ).from_(at),
    )
    marks = [col(f"m{i}") for i in range(len(spec.branches))]

    def taking(branch: str, taken: exp.Expression, forked: exp.Expression) -> exp.Select:
        """The rows that take `branch`; where `forked`, as a fork of the arriving path."""
        fork_id = stable_id(col("path_id"), lit(step.id), lit(branch))
        path_id = exp.Case(ifs=[exp.If(this=forked.copy(), true=fork_id)], default=col("path_id"))
        columns = [exp.alias_(path_id, c) if c == "path_id" else col(c) for c in PATH_COLUMNS]
        return (
            exp.select(*columns, exp.alias_(col("arrived_at"), "due_at"), exp.alias_(lit(branch), "branch"))
            .select(exp.alias_(forked, "forked"))
            .from_(matched)
            .where(taken)
        )

    rows = [
        taking(f"branch_{i + 1}", mark.copy(), exp.or_(*(m.copy() for m in marks[:i])) if i else exp.false())
        for i, mark in enumerate(marks)
    ]
    rows.append(taking("else", exp.not_(exp.or_(*(m.copy() for m in marks))), exp.false()))
    return Answer(exp.select("*").from_(union_all(rows).subquery("branches")), forks=True)


def _member(tick: TickSql, step: Step, rule: Rule) -> exp.Expression:
    """Columns qualified: the predicate is a correlated subquery, where a bare `profile_id` would bind to
    the inner table."""
    at = f"at_{step.id}"
    asked = tick.segments.on_path(col("entry_at", at))
    return asked.predicate(rule, col("profile_id", at), col("arrived_at", at))
