"""`journeys show` and `journeys metrics` on a real warehouse: the shipped welcome series, five sign-ups,
one of whom unsubscribes while waiting (a drop-off), one activates (the `then` branch), three are split.
The picture is parsed back: every number on it is checked against the path each profile took."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from journey_compiler.show.picture import render_picture
from orchestration.lib.dbt_project import prepare_project
from orchestration.lib.translator import JourneysTranslator

pytestmark = pytest.mark.slow

T0 = datetime(2026, 3, 2, 6, 0)
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def shown(tmp_path_factory, scenario_builder, welcome_yaml):
    sc = scenario_builder(tmp_path_factory.mktemp("show"), {"welcome_series": welcome_yaml})
    sc.profiles(["a", "b", "c", "d", "e"])
    for i, pid in enumerate("abcde"):
        sc.event(f"s_{pid}", pid, "signup", T0 + timedelta(minutes=i), channel="web")
    sc.event("act_a", "a", "activate", T0 + timedelta(hours=30))
    sc.event("unsub_e", "e", "unsubscribe", T0 + timedelta(hours=2), channel="email")
    sc.tick(T0 + timedelta(hours=1))
    welcome = {s["profile_id"]: s["message_id"] for s in sc.sends() if s["node_id"] == "welcome"}
    for pid, status in (("a", "sent"), ("b", "sent"), ("a", "delivered")):
        sc.sql("insert into journeys.message_events values (?, ?, ?, null)", [welcome[pid], status, T0])
    sc.tick(T0 + timedelta(days=5))
    return sc


def _texts(svg: str) -> list[str]:
    return [t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}text")]


def test_the_picture_shows_every_count(shown):
    texts = _texts(render_picture(shown.built.project, shown.workspace.warehouse, "welcome_series", "svg"))
    expected = [
        "entered 5",  # the entry box and its arrow
        "arrived 5 · waiting now 0",  # welcome, then wait_a_day
        "queued 5 · sent 2 · delivered 1 · read 0",  # the welcome email's delivery figures
        "drop-off 1 (20%): exit_when 1",  # e unsubscribed while waiting a day
        "next 4 (80%)",  # wait_a_day -> activated
        "then 1 (25%)",
        "else 3 (75%)",
        "arrived 3 · waiting now 0",  # nudge_split
        "completed here 1",  # tag_active (a)
    ]
    for text in expected:
        assert text in texts, f"{text!r} not on the picture"
    assert texts.count("arrived 5 · waiting now 0") == 2
    assert sum(t.startswith("nudge_push ") or t.startswith("nudge_email ") for t in texts) == 2
    assert "welcome_series · as of the tick at 2026-03-07 06:00 UTC" in texts


def test_the_picture_is_laid_out_without_overlaps(shown):
    root = ET.fromstring(
        render_picture(shown.built.project, shown.workspace.warehouse, "welcome_series", "svg")
    )
    boxes = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "box"]
    assert len(boxes) == 1 + 7  # the entry and the seven nodes
    spans = [
        (float(b.get("x")), float(b.get("y")), float(b.get("width")), float(b.get("height"))) for b in boxes
    ]
    for i, (x1, y1, w1, h1) in enumerate(spans):
        for x2, y2, w2, h2 in spans[i + 1 :]:
            apart = x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1
            assert apart, "two boxes overlap"
    assert len([p for p in root.iter(f"{SVG}path") if p.get("class") == "edge"]) == 1 + 6  # entry + branches


def _journeys(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "journeys"), *args], capture_output=True, text=True, check=False
    )


def test_show_writes_svg_and_html(shown, tmp_path):
    where = ["--dir", str(shown.workspace.journeys_dir), "--warehouse", str(shown.workspace.warehouse)]
    html = tmp_path / "welcome.html"
    done = _journeys("show", "welcome_series", *where, "--out", str(html))
    assert done.returncode == 0, done.stderr
    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    assert "<h2>Metrics</h2>" in page and "<h2>A/B comparison</h2>" in page
    assert "nudge_email" in page
    table = _journeys("show", "welcome_series", *where)
    assert table.returncode == 0 and "exit_when 1" in table.stdout
    wrong = _journeys("show", "nope", *where)
    assert (
        wrong.returncode == 1 and "unknown journey 'nope'" in wrong.stderr and "Traceback" not in wrong.stderr
    )


def test_metrics_command_recomputes_and_prints(shown):
    where = ["--dir", str(shown.workspace.journeys_dir), "--warehouse", str(shown.workspace.warehouse)]
    done = _journeys("metrics", "welcome_series", "--recompute", *where)
    assert done.returncode == 0, done.stderr
    assert "goal_activated" in done.stdout and "A/B comparison" in done.stdout
    rows = shown.rows(
        "journeys.journey_metrics", where="ab_group = '(all)' and metric_id in ('entered', 'exited')"
    )
    assert {r["metric_id"]: r["value"] for r in rows} == {"entered": 5, "exited": 1}


def test_the_journey_asset_tells_the_story(shown):
    prepared = prepare_project(shown.workspace)
    translator = JourneysTranslator(prepared)
    props = {"meta": {"journey_id": "welcome_series"}, "config": {}, "fqn": ["journeys", "journeys", "x"]}
    description = translator.get_description(props)
    assert "**Welcome series** (`welcome_series`)" in description
    assert "welcome_series.yaml" in description and "5 entered" in description
    picture = Path(translator._journey("welcome_series")[1]["journey/picture"].path)
    assert f"`{picture}`" in description
    assert "exit_when 1" in ET.fromstring(picture.read_text()).findtext(f".//{SVG}text[@class='drop']")
    assert picture.with_suffix(".html").read_text().startswith("<!DOCTYPE html>")
    assert len(description) < 20_000, "no generated SQL on the asset page"
    metadata = translator._journey("welcome_series")[1]  # what get_metadata adds to dbt's own
    assert metadata["journey/yaml"].path.endswith("journeys/welcome_series.yaml")
    nodes = {r.data["node"]: r.data for r in metadata["journey/nodes"].records}
    assert (
        nodes["wait_a_day"]["drop-off"] == "exit_when 1"
        and nodes["activated"]["left by branch"] == "then 1, else 3"
    )
