"""ab_race in the experiments mart: only the test traffic is compared, and the race says whether its test
phase has its sample. Variants are chosen by recomputing the race's md5 bucket in Python."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import pytest

from journey_compiler.runtime.metrics import recompute_metrics

pytestmark = pytest.mark.slow

RACE = """
id: {id}
name: Race
timezone: UTC
active: {{from: "2026-01-01T00:00:00Z", until: "2027-01-01T00:00:00Z"}}
entry:
  event:
    did: {{event: signup}}
goals:
  - id: bought
    did: {{event: purchase}}
    within: 2d
start: race
nodes:
  race:
    ab_race:
      test_share: 50
      sample_size: {sample}
      variants:
        - {{id: discount, to: promo_a}}
        - {{id: shipping, to: promo_b}}
  promo_a:
    send: {{channel: email, template: promo_a}}
  promo_b:
    send: {{channel: email, template: promo_b}}
"""
T0 = datetime(2026, 3, 2, 6, 0)


def _variant(journey_id: str, profile_id: str) -> str | None:
    """50% test share split evenly: buckets [0, 2500) discount, [2500, 5000) shipping, the rest wait."""
    entry_id = hashlib.md5(f"{journey_id}:{profile_id}:s_{profile_id}".encode()).hexdigest()
    slot = int(hashlib.md5(f"{journey_id}:{entry_id}:race".encode()).hexdigest()[:8], 16) % 10_000
    return "discount" if slot < 2500 else "shipping" if slot < 5000 else None


def _pick(journey_id: str, wanted: dict[str | None, int]) -> dict[str | None, list[str]]:
    picked: dict[str | None, list[str]] = {group: [] for group in wanted}
    for i in range(200):
        pid = f"p{i:03d}"
        group = _variant(journey_id, pid)
        if len(picked[group]) < wanted[group]:
            picked[group].append(pid)
    return picked


PICKED = _pick("race_small", {"discount": 3, "shipping": 2, None: 3})


@pytest.fixture(scope="module")
def race(tmp_path_factory, scenario_builder):
    journeys = {
        "race_small": RACE.format(id="race_small", sample=4),
        "race_big": RACE.format(id="race_big", sample=10),
    }
    sc = scenario_builder(tmp_path_factory.mktemp("race"), journeys)
    everyone = [pid for group in PICKED.values() for pid in group]
    sc.profiles(everyone)
    for k, pid in enumerate(everyone):
        sc.event(f"s_{pid}", pid, "signup", T0 + timedelta(minutes=k), channel="web")
    sc.event("buy", PICKED["discount"][0], "purchase", T0 + timedelta(hours=5), value=1.0, order_id="x")
    sc.tick(T0 + timedelta(hours=12))
    recompute_metrics(sc.workspace, sc.built)
    return sc


def test_a_race_compares_only_its_test_traffic(race):
    rows = race.rows("journeys.journey_experiments", where="journey_id = 'race_small'")
    got = {r["variant"]: (r["reached"], r["converted"], r["is_control"], r["node_kind"]) for r in rows}
    assert got == {"discount": (3, 1, True, "ab_race"), "shipping": (2, 0, False, "ab_race")}
    shipping = next(r for r in rows if r["variant"] == "shipping")
    assert shipping["uplift"] == pytest.approx(-1.0)
    # the three waiting for a winner count for the journey, not for a variant
    entered = race.rows(
        "journeys.journey_metrics",
        where="journey_id = 'race_small' and metric_id = 'entered'",
        order="ab_group",
    )
    assert {r["ab_group"]: r["value"] for r in entered} == {"(all)": 8, "discount": 3, "shipping": 2}


def test_a_race_says_whether_it_has_its_sample(race):
    samples = race.sql("select journey_id, bool_and(has_sample) from journeys.journey_experiments group by 1")
    # race_small: 5 test arrivals >= sample_size 4; race_big: at most 8 signups, sample_size 10
    assert dict(samples) == {"race_small": True, "race_big": False}
