"""The metric marts against values worked out by hand (docs/metrics.md walks through the same numbers).

One journey in Asia/Shanghai (UTC+8): signup -> wait 1d -> ab_split 50/50 (control: SMS, treat: email).
40 entries, 20 per group, chosen by computing the split's md5 bucket in Python (as another engine would).
Signups start at 15:50 UTC = 23:50 local, one a minute, so 10 arrive on local 2 March and 30 on 3 March,
all on 2 March in UTC. Events are placed inside and just outside each window; senders' outcomes are rows
of journeys.message_events, as the senders and provider callbacks write them.
"""

from __future__ import annotations

import hashlib
import math
import statistics
from datetime import date, datetime, timedelta

import duckdb
import pytest

from journey_compiler.runtime.metrics import recompute_metrics

pytestmark = pytest.mark.slow

JOURNEY = """
id: ab_test
name: Reminder channel test
timezone: Asia/Shanghai
active: {from: "2026-01-01T00:00:00Z", until: "2027-01-01T00:00:00Z"}
entry:
  event:
    did: {event: signup}
goals:
  - id: bought
    did: {event: purchase}
    within: 2d
metrics: [add_to_cart_3d, orders_7d, gmv_7d, add_to_cart_rate, sms_cost]
start: wait
nodes:
  wait:
    wait: {for: 1d}
    next: split
  split:
    ab_split:
      - {to: by_sms, percent: 50, id: control}
      - {to: by_email, percent: 50, id: treat}
  by_sms:
    send: {channel: sms, template: cart_reminder_sms}
  by_email:
    send: {channel: email, template: welcome_email}
"""
T0 = datetime(2026, 3, 2, 15, 50)  # 23:50 in Shanghai
LAST_TICK = datetime(2026, 3, 11)


def _group(profile_id: str) -> str:
    """The split's branch, recomputed outside the warehouse: md5(journey:entry:node) mod 10 000."""
    entry_id = hashlib.md5(f"ab_test:{profile_id}:s_{profile_id}".encode()).hexdigest()
    slot = int(hashlib.md5(f"ab_test:{entry_id}:split".encode()).hexdigest()[:8], 16) % 10_000
    return "control" if slot < 5000 else "treat"


def _pick() -> tuple[list[str], list[str]]:
    control, treat = [], []
    for i in range(200):
        pid = f"p{i:03d}"
        (control if _group(pid) == "control" else treat).append(pid)
    return control[:20], treat[:20]


C, T = _pick()
SIGNUPS = [pid for pair in zip(C, T, strict=True) for pid in pair]  # C0 T0 C1 T1 ..., one a minute


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A UTC time in March 2026."""
    return datetime(2026, 3, day, hour, minute)


@pytest.fixture(scope="module")
def marts(tmp_path_factory, scenario_builder):
    sc = scenario_builder(tmp_path_factory.mktemp("marts"), {"ab_test": JOURNEY})
    sc.profiles(SIGNUPS)
    for k, pid in enumerate(SIGNUPS):
        sc.event(f"s_{pid}", pid, "signup", T0 + timedelta(minutes=k), channel="web")
    # goal `bought` (2d from entry): 5 control and 10 treat on 3 March; T10 buys after its window closed
    for pid in C[:5] + T[:10]:
        sc.event(f"buy_{pid}", pid, "purchase", at(3, 20), value=1.0, order_id="x")
    sc.event("buy_late", T[10], "purchase", at(4, 17), value=1.0, order_id="x")
    # add_to_cart_3d: C0 twice after the split; C1 after both windows; T0..T3 after entry, before the
    # split (the journey's window only); T4 before entering (no window)
    sc.event("atc_c0a", C[0], "add_to_cart", at(3, 17), value=1.0, sku="a")
    sc.event("atc_c0b", C[0], "add_to_cart", at(3, 18), value=1.0, sku="a")
    sc.event("atc_c1", C[1], "add_to_cart", at(6, 17), value=1.0, sku="a")
    for n, pid in enumerate(T[:4]):
        sc.event(f"atc_t{n}", pid, "add_to_cart", at(2, 18), value=1.0, sku="a")
    sc.event("atc_t4", T[4], "add_to_cart", at(2, 15), value=1.0, sku="a")
    # orders_7d / gmv_7d: C0 10 and C1 20 after the split; T0 5 after its window; T1 7 before the split
    orders = [("o1", C[0], 10.0, at(3, 20)), ("o2", C[1], 20.0, at(4, 12)), ("o3", T[0], 5.0, at(10, 17))]
    orders.append(("o4", T[1], 7.0, at(3, 3)))
    sc.sql(
        "insert into raw.orders (order_id, profile_id, amount, ordered_at) select * from (values "
        + ", ".join("(?, ?, ?, ?)" for _ in orders)
        + ")",
        [v for o in orders for v in o],
    )

    sc.tick(at(2, 17))
    sc.tick(at(4, 17))
    message = {row["profile_id"]: row["message_id"] for row in sc.sends()}
    outcomes = [(message[p], "sent", at(3, 17)) for p in C[:12]]  # 01:00 local on 4 March
    outcomes += [(message[p], "failed", at(3, 17)) for p in C[12:14]]
    outcomes += [(message[p], "delivered", at(3, 17, 30)) for p in C[:3]]
    outcomes += [(message[C[0]], "read", at(4, 20))]  # 04:00 local on 5 March
    outcomes += [(message[T[0]], "suppressed", at(3, 17))]
    for message_id, status, when in outcomes:
        detail = "frequency_cap" if status == "suppressed" else None
        sc.sql("insert into journeys.message_events values (?, ?, ?, ?)", [message_id, status, when, detail])
    sc.tick(LAST_TICK)
    recompute_metrics(sc.workspace, sc.built)
    return sc


def _metrics(sc, group: str) -> dict[str, float]:
    rows = sc.rows("journeys.journey_metrics", where=f"journey_id = 'ab_test' and ab_group = '{group}'")
    return {r["metric_id"]: r["value"] for r in rows}


def test_configured_metrics_count_inside_each_window(marts):
    overall, control, treat = _metrics(marts, "(all)"), _metrics(marts, "control"), _metrics(marts, "treat")
    # add_to_cart_3d counts profiles: C0 (twice, once counted) and T0..T3 for the journey; C0 for control
    assert (overall["add_to_cart_3d"], control["add_to_cart_3d"], treat["add_to_cart_3d"]) == (5, 1, 0)
    assert (overall["orders_7d"], control["orders_7d"], treat["orders_7d"]) == (3, 2, 0)
    assert (overall["gmv_7d"], control["gmv_7d"], treat["gmv_7d"]) == (37.0, 30.0, 0.0)


def test_composite_metrics_do_the_arithmetic(marts):
    overall, control, treat = _metrics(marts, "(all)"), _metrics(marts, "control"), _metrics(marts, "treat")
    assert overall["add_to_cart_rate"] == pytest.approx(5 / 40)
    assert control["add_to_cart_rate"] == pytest.approx(1 / 20)
    assert treat["add_to_cart_rate"] == 0
    assert overall["sms_cost"] == pytest.approx(12 * 0.05)
    assert control["sms_cost"] == pytest.approx(0.6)
    assert treat["sms_cost"] == 0


def test_builtin_metrics_and_goals(marts):
    overall, control, treat = _metrics(marts, "(all)"), _metrics(marts, "control"), _metrics(marts, "treat")
    assert {k: overall[k] for k in ("entered", "completed", "exited", "sent", "sent_sms", "sent_email")} == {
        "entered": 40,
        "completed": 40,
        "exited": 0,
        "sent": 12,
        "sent_sms": 12,
        "sent_email": 0,
    }
    assert (overall["failed"], overall["delivered"], overall["read"], overall["suppressed"]) == (2, 3, 1, 1)
    assert (control["suppressed"], treat["suppressed"], treat["sent"]) == (0, 1, 0)
    assert (overall["goal_bought"], control["goal_bought"], treat["goal_bought"]) == (15, 5, 10)


def test_reached_is_the_entries_each_window_counts_from(marts):
    rows = marts.rows("journeys.journey_metrics", where="journey_id = 'ab_test' and metric_id = 'gmv_7d'")
    got = {(r["ab_node"], r["ab_group"]): (r["reached"], r["metric_window"], r["metric_kind"]) for r in rows}
    assert got == {
        (None, "(all)"): (40, "7d", "detail"),
        ("split", "control"): (20, "7d", "detail"),
        ("split", "treat"): (20, "7d", "detail"),
    }
    assert {r["computed_at"] for r in rows} == {LAST_TICK}


def _two_proportion(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float, float]:
    """Reference: pooled z, two-sided p (math.erfc) and the unpooled 95% margin of the difference."""
    p1, p2, pooled = x1 / n1, x2 / n2, (x1 + x2) / (n1 + n2)
    z = (p2 - p1) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    margin = 1.959963984540054 * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    return z, math.erfc(abs(z) / math.sqrt(2)), margin


def test_experiment_uplift_and_z_test(marts):
    rows = marts.rows("journeys.journey_experiments", where="node_id = 'split'")
    by = {(r["variant"], r["outcome_id"]): r for r in rows}
    control, treat = by[("control", "goal_bought")], by[("treat", "goal_bought")]
    assert (control["reached"], control["converted"], control["rate"], control["is_control"]) == (
        20,
        5,
        0.25,
        True,
    )
    assert (treat["reached"], treat["converted"], treat["rate"]) == (20, 10, 0.5)
    assert treat["uplift"] == pytest.approx(1.0)
    assert treat["rate_difference"] == pytest.approx(0.25)
    # by hand: pooled 0.375, se = sqrt(0.375 * 0.625 * (1/20 + 1/20)) = 0.15309, z = 1.63299, p = 0.10247
    assert treat["z_score"] == pytest.approx(1.6329932, abs=1e-6)
    assert treat["p_value"] == pytest.approx(0.10247, abs=1e-5)
    z, p, margin = _two_proportion(5, 20, 10, 20)
    assert treat["p_value"] == pytest.approx(p, abs=1e-6)
    assert (treat["ci_low"], treat["ci_high"]) == (pytest.approx(0.25 - margin), pytest.approx(0.25 + margin))
    assert control["uplift"] is None and control["p_value"] is None
    for outcome, converted in (("add_to_cart_3d", 1), ("orders_7d", 2), ("gmv_7d", 2)):
        row = by[("treat", outcome)]
        assert (by[("control", outcome)]["converted"], row["converted"]) == (converted, 0)
        assert row["uplift"] == pytest.approx(-1.0)
        assert row["p_value"] == pytest.approx(_two_proportion(converted, 20, 0, 20)[1], abs=1e-6)
    assert {r["has_sample"] for r in rows} == {None}


def _t_two_sided_p(t: float, df: float, steps: int = 4000) -> float:
    """Reference: 2 * P(T > |t|) for Student's t, by Simpson's rule over its density (x = |t| + u/(1-u))."""

    def density(x: float) -> float:
        log = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
        return math.exp(log - (df + 1) / 2 * math.log1p(x * x / df))

    h, total = 1.0 / steps, 0.0
    for i in range(steps):  # u = 1 (x = infinity) adds nothing
        u = i * h
        total += (1 if i == 0 else 4 if i % 2 else 2) * density(abs(t) + u / (1 - u)) / (1 - u) ** 2
    return 2 * total * h / 3


def _welch(control: list[float], treat: list[float]) -> tuple[float, float, float, float]:
    """Reference: Welch's t, its degrees of freedom, the exact two-sided p and the 95% margin (the t
    quantile found by bisection on the exact p)."""
    v1, v2 = statistics.variance(control) / len(control), statistics.variance(treat) / len(treat)
    t = (statistics.mean(treat) - statistics.mean(control)) / math.sqrt(v1 + v2)
    df = (v1 + v2) ** 2 / (v1**2 / (len(control) - 1) + v2**2 / (len(treat) - 1))
    low, high = 1.0, 10.0
    for _ in range(50):
        middle = (low + high) / 2
        low, high = (middle, high) if _t_two_sided_p(middle, df) > 0.05 else (low, middle)
    return t, df, _t_two_sided_p(t, df), low * math.sqrt(v1 + v2)


def test_experiment_welch_test_of_means(marts):
    """Per-entry counts and sums (orders, GMV) compare their means; a count of profiles (0/1) and goals
    do not. By hand for GMV: control 10, 20 and 18 zeros (mean 1.5, variance 455/19), treat 20 zeros, so
    t = -1.5 / sqrt(455/19/20) = -1.37081 with 19 degrees of freedom."""
    rows = marts.rows("journeys.journey_experiments", where="node_id = 'split'")
    by = {(r["variant"], r["outcome_id"]): r for r in rows}
    gmv = by[("treat", "gmv_7d")]
    assert (by[("control", "gmv_7d")]["mean_value"], gmv["mean_value"]) == (pytest.approx(1.5), 0)
    assert by[("control", "gmv_7d")]["value_stddev"] == pytest.approx(math.sqrt(455 / 19))
    assert gmv["welch_t"] == pytest.approx(-1.370810, abs=1e-6)
    assert gmv["welch_df"] == pytest.approx(19)
    for outcome, control_values in (("gmv_7d", [10.0, 20.0]), ("orders_7d", [1.0, 1.0])):
        row = by[("treat", outcome)]
        t, df, p, margin = _welch([*control_values, *[0.0] * 18], [0.0] * 20)
        assert (row["welch_t"], row["welch_df"]) == (pytest.approx(t), pytest.approx(df))
        # the SQL's t distribution is Wallace's normal transformation: within 7e-4 of exact from 5 df on
        assert row["welch_p_value"] == pytest.approx(p, abs=7e-4)
        assert row["mean_difference"] == pytest.approx(-statistics.mean(control_values) / 10)
        assert row["mean_ci_low"] == pytest.approx(row["mean_difference"] - margin, abs=1e-3)
        assert row["mean_ci_high"] == pytest.approx(row["mean_difference"] + margin, abs=1e-3)
    assert by[("treat", "gmv_7d")]["welch_p_value"] == pytest.approx(0.1865, abs=1e-3)
    for outcome in ("add_to_cart_3d", "goal_bought"):
        row = by[("treat", outcome)]
        assert row["mean_value"] is None and row["welch_p_value"] is None
    assert by[("control", "gmv_7d")]["welch_p_value"] is None


def _daily(sc, table: str, columns: str, where: str = "true") -> set[tuple]:
    return set(sc.sql(f"select {columns} from journeys.{table} where journey_id = 'ab_test' and {where}"))


def test_node_daily_counts_by_local_day(marts):
    mar = lambda d: date(2026, 3, d)  # noqa: E731
    cols = "node_id, branch, ab_group, day, arrived, left_node, completed, exited, waiting"
    assert _daily(marts, "journey_node_daily", cols, "node_id in ('wait', 'split')") == {
        ("wait", None, None, mar(2), 10, 0, 0, 0, 10),
        ("wait", None, None, mar(3), 30, 0, 0, 0, 30),
        ("wait", "next", None, mar(3), 0, 10, 0, 0, 0),
        ("wait", "next", None, mar(4), 0, 30, 0, 0, 0),
        ("split", None, None, mar(3), 10, 0, 0, 0, 0),
        ("split", None, None, mar(4), 30, 0, 0, 0, 0),
        ("split", "control", None, mar(3), 0, 5, 0, 0, 0),
        ("split", "control", None, mar(4), 0, 15, 0, 0, 0),
        ("split", "treat", None, mar(3), 0, 5, 0, 0, 0),
        ("split", "treat", None, mar(4), 0, 15, 0, 0, 0),
    }
    cols = "branch, ab_group, day, arrived, left_node, completed, messages, sent, failed"
    assert _daily(marts, "journey_node_daily", cols, "node_id = 'by_sms'") == {
        (None, "control", mar(3), 5, 0, 0, 5, 5, 0),
        (None, "control", mar(4), 15, 0, 0, 15, 7, 2),
        ("next", "control", mar(3), 0, 5, 5, 0, 0, 0),
        ("next", "control", mar(4), 0, 15, 15, 0, 0, 0),
    }


def test_channel_daily_counts_statuses_on_their_local_day(marts):
    mar = lambda d: date(2026, 3, d)  # noqa: E731
    cols = "node_id, channel, suppressed_by, day, queued, sent, delivered, read, failed, suppressed"
    assert _daily(marts, "journey_channel_daily", cols) == {
        ("by_sms", "sms", None, mar(3), 5, 0, 0, 0, 0, 0),
        ("by_sms", "sms", None, mar(4), 15, 12, 3, 0, 2, 0),
        ("by_sms", "sms", None, mar(5), 0, 0, 0, 1, 0, 0),
        ("by_email", "email", None, mar(3), 4, 0, 0, 0, 0, 0),
        ("by_email", "email", None, mar(4), 15, 0, 0, 0, 0, 0),
        ("by_email", "email", "frequency_cap", mar(3), 1, 0, 0, 0, 0, 0),
        ("by_email", "email", "frequency_cap", mar(4), 0, 0, 0, 0, 0, 1),
    }


MARTS = ("journey_node_daily", "journey_channel_daily", "journey_metrics", "journey_experiments")


def test_recompute_twice_gives_the_same_rows(marts):
    def snapshot() -> dict[str, list[tuple]]:
        return {m: sorted(marts.sql(f"select * from journeys.{m}"), key=repr) for m in MARTS}

    first = snapshot()
    recompute_metrics(marts.workspace, marts.built)
    assert snapshot() == first
    assert all(first.values())


def test_the_dbt_tests_of_the_marts_pass(marts):
    from journey_compiler.runtime.dbt import run_dbt

    run_dbt(marts.built.dbt_dir, marts.workspace.warehouse, ["test", "--select", "path:models/marts"])


def test_published_parquet_matches_the_warehouse(marts):
    from journey_compiler.runtime.publish import published_file

    with duckdb.connect() as reader:
        for table in (*MARTS, "journey_state", "send_queue"):
            path = str(published_file(marts.workspace.warehouse, table))
            published = reader.execute("select count(*) from read_parquet(?)", [path]).fetchone()[0]
            assert published == marts.sql(f"select count(*) from journeys.{table}")[0][0] > 0, table
