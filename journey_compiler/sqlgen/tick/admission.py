"""Admission inside the tick: of this tick's entry candidates (entries.py), which the frequency and re-entry
rules admit, judged in logical-time order with the paths as they are at each candidate's time.

Every candidate walks the journey in this tick as if it had entered, so the time its path ends is known
(`path_ends`, from the outcomes of every node: `moves`). A profile's candidates are then taken as the
reference interpreter takes them: the first one the earlier entries leave room for, then the first one after
it that the entries admitted so far leave room for (without re-entry: at or after the previous one's end; with
a frequency limit: fewer than `max` entries in its period), and so on: a chain, built by one recursive CTE
whose step picks the next candidate with NOT EXISTS (no earlier one qualifies), the form DuckDB and Spark both
run. So a profile whose path ended earlier in the tick may enter again, and one tick covering several
occurrences admits each the rules allow. The records of the candidates left out are dropped when the tick's
records are assembled (`refused_entries`)."""

from __future__ import annotations

from sqlglot import exp

from journey_compiler.ir import EntryPlan
from journey_compiler.sqlgen.ast import aliased, col, earliest, eq, is_null, lit, not_null, union_all
from journey_compiler.sqlgen.tick.builder import TickSql

CHAIN_COLUMNS = ("entry_id", "profile_id", "entry_at", "trigger_key", "ended_at")


def needed(entry: EntryPlan) -> bool:
    """Without re-entry or with a frequency limit, one candidate's admission depends on the others."""
    return not entry.reentry or entry.frequency_max is not None


def build(tick: TickSql) -> None:
    """CTEs `path_ends`, (without re-entry) `earlier_ends`, `admissible_entries`, `admitted_entries`
    (recursive) and `refused_entries`."""
    entry = tick.plan.entry
    if not needed(entry):
        return
    ended = exp.or_(
        eq(col("outcome", "m"), "exit"),
        exp.and_(eq(col("outcome", "m"), "leave"), is_null(col("next_node", "m"))),
    )
    # an entry ends with its last path: not while one of its paths stays at a node
    stays = (
        exp.select("1")
        .from_(aliased("moves", "s"))
        .where(exp.and_(eq(col("entry_id", "s"), col("entry_id", "m")), eq(col("outcome", "s"), "stay")))
    )
    tick.cte(
        "path_ends",
        exp.select(col("entry_id", "m"), exp.alias_(exp.func("MAX", col("left_at", "m")), "ended_at"))
        .from_(aliased("moves", "m"))
        .where(exp.and_(ended, exp.not_(exp.Exists(this=stays))))
        .group_by(col("entry_id", "m")),
    )
    if not entry.reentry:
        tick.cte("earlier_ends", _earlier_ends())
    tick.cte("admissible_entries", _admissible(entry))
    chain = [col(c, "c") for c in CHAIN_COLUMNS]
    recent: list[exp.Expression] = []
    if entry.frequency_max is not None:
        recent = [exp.alias_(exp.Array(expressions=[col("entry_at", "c")]), "recent")]
    base = exp.select(*chain, *recent).from_(aliased("admissible_entries", "c")).where(_first_of())
    if entry.frequency_max is not None:
        recent = [
            exp.alias_(exp.ArrayAppend(this=col("recent", "p"), expression=col("entry_at", "c")), "recent")
        ]
    step = (
        exp.select(*chain, *recent)
        .from_(aliased("admitted_entries", "p"))
        .join(aliased("admissible_entries", "c"), on=_may_follow(entry, "c"))
        .where(_first_of(_may_follow(entry, "d")))
    )
    tick.cte("admitted_entries", union_all([base, step]), recursive=True)
    admitted = (
        exp.select("1")
        .from_(aliased("admitted_entries", "a"))
        .where(eq(col("entry_id", "a"), col("entry_id", "n")))
    )
    tick.cte(
        "refused_entries",
        exp.select(col("entry_id", "n"))
        .from_(aliased("new_entries", "n"))
        .where(exp.not_(exp.Exists(this=admitted))),
    )


def _may_follow(entry: EntryPlan, candidate: str) -> exp.Expression:
    """Whether `candidate` may be the next entry of the chain whose last admitted entry is `p`: after it,
    and left room for by the re-entry and frequency rules given the chain so far."""
    c = candidate
    following = exp.or_(
        exp.GT(this=col("entry_at", c), expression=col("entry_at", "p")),
        exp.and_(
            eq(col("entry_at", c), col("entry_at", "p")),
            exp.GT(this=col("trigger_key", c), expression=col("trigger_key", "p")),
        ),
    )
    rules = [eq(col("profile_id", c), col("profile_id", "p")), following]
    if not entry.reentry:
        # the previous one has ended by then (a path still open at the horizon admits nobody after it)
        rules += [
            not_null(col("ended_at", "p")),
            exp.GTE(this=col("entry_at", c), expression=col("ended_at", "p")),
        ]
    if entry.frequency_max is not None:
        in_period = col("recent", "p")
        if entry.frequency_per is not None:
            since = exp.Sub(this=col("entry_at", c), expression=_seconds(entry))
            in_period = exp.ArrayFilter(
                this=in_period,
                expression=exp.Lambda(
                    this=exp.GT(this=exp.to_identifier("t"), expression=since),
                    expressions=[exp.to_identifier("t")],
                ),
            )
        taken = exp.Add(this=col("prior_entries", c), expression=exp.ArraySize(this=in_period))
        rules.append(exp.LT(this=taken, expression=lit(entry.frequency_max)))
    return exp.and_(*rules)


def _first_of(rule: exp.Expression | None = None) -> exp.Expression:
    """No admissible candidate `d` (for which `rule` holds) comes before the candidate `c` (by logical time,
    then trigger): `c` is the first. A NOT EXISTS, not a ranking, because Spark ranks nothing over the
    recursive reference (docs/spark.md)."""
    before = exp.or_(
        exp.LT(this=col("entry_at", "d"), expression=col("entry_at", "c")),
        exp.and_(
            eq(col("entry_at", "d"), col("entry_at", "c")),
            exp.LT(this=col("trigger_key", "d"), expression=col("trigger_key", "c")),
        ),
    )
    same_profile = eq(col("profile_id", "d"), col("profile_id", "c"))
    earlier = (
        exp.select("1")
        .from_(aliased("admissible_entries", "d"))
        .where(exp.and_(same_profile, before, *([rule] if rule else [])))
    )
    return exp.not_(exp.Exists(this=earlier))


def _seconds(entry: EntryPlan) -> exp.Expression:
    assert entry.frequency_per is not None
    return exp.Interval(this=lit(int(entry.frequency_per.total_seconds())), unit=exp.var("SECOND"))


def _earlier_ends() -> exp.Select:
    """The entries made before this tick, with when they ended: before it (`ended_entries`) or within it
    (`path_ends`); NULL while open. Joined here once, so that admission's test of them is one correlated
    subquery deep (Spark resolves no reference to a query two levels out)."""
    ended_at = earliest([col("ended_at", "x"), col("ended_at", "y")])
    query = exp.select(col("profile_id", "s"), col("entry_at", "s"), exp.alias_(ended_at, "ended_at")).from_(
        aliased("earlier_entries", "s")
    )
    for source, alias in (("ended_entries", "x"), ("path_ends", "y")):
        same = eq(col("entry_id", alias), col("entry_id", "s"))
        query = query.join(aliased(source, alias), join_type="left", on=same)
    return query


def _admissible(entry: EntryPlan) -> exp.Select:
    """The candidates the entries made before this tick leave room for, with when their path ends in it
    (NULL: still open at the horizon) and, with a frequency limit, how many earlier entries fall in their
    period (`prior_entries`)."""
    candidate_at = col("entry_at", "c")
    earlier = exp.and_(
        eq(col("profile_id", "s"), col("profile_id", "c")),
        exp.LTE(this=col("entry_at", "s"), expression=candidate_at),
    )
    columns: list[exp.Expression] = [col(c, "c") for c in CHAIN_COLUMNS[:4]]
    columns.append(exp.alias_(col("ended_at", "e"), "ended_at"))
    if entry.frequency_max is not None:
        in_period = earlier.copy()
        if entry.frequency_per is not None:
            since = exp.Sub(this=candidate_at.copy(), expression=_seconds(entry))
            in_period = exp.and_(in_period, exp.GT(this=col("entry_at", "s"), expression=since))
        prior = (
            exp.select(exp.func("COUNT", exp.Star())).from_(aliased("earlier_entries", "s")).where(in_period)
        )
        columns.append(exp.alias_(prior.subquery(), "prior_entries"))
    query = (
        exp.select(*columns)
        .from_(aliased("new_entries", "c"))
        .join(aliased("path_ends", "e"), join_type="left", on=eq(col("entry_id", "e"), col("entry_id", "c")))
    )
    if not entry.reentry:
        # an earlier entry is inside at the candidate's time unless it ended by then (`earlier_ends`)
        inside = (
            exp.select("1")
            .from_(aliased("earlier_ends", "s"))
            .where(
                exp.and_(
                    earlier.copy(),
                    exp.or_(
                        is_null(col("ended_at", "s")),
                        exp.GT(this=col("ended_at", "s"), expression=candidate_at.copy()),
                    ),
                )
            )
        )
        query = query.where(exp.not_(exp.Exists(this=inside)))
    if entry.frequency_max is None:
        return query
    return (
        exp.select("*")
        .from_(query.subquery("counted"))
        .where(exp.LT(this=col("prior_entries"), expression=lit(entry.frequency_max)))
    )
