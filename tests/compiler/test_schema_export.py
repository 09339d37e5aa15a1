"""`journeys schema`: the JSON Schema editors use to check journey files as they are typed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "shop" / "journeys"
JOURNEYS = Path(sys.executable).parent / "journeys"


def test_schema_describes_every_node_kind_and_rejects_unknown_keys(tmp_path):
    out = tmp_path / "journey.schema.json"
    subprocess.run([str(JOURNEYS), "schema", "--out", str(out)], check=True)
    schema = json.loads(out.read_text())

    assert schema["title"] == "Journey"
    assert {"id", "entry", "nodes", "active"} <= set(schema["required"])
    definitions = schema["$defs"]
    for kind in ("SendNode", "WaitNode", "EventCheckNode", "AbRaceNode", "SegmentSplitNode"):
        assert definitions[kind]["additionalProperties"] is False, f"{kind} must reject unknown keys"
    assert definitions["WaitSpec"]["properties"]["for"]["anyOf"][0]["pattern"] == r"^\d+[smhd]$"


def test_every_example_journey_has_only_keys_the_schema_knows():
    from journey_compiler.config.journey import Journey

    known = set(Journey.model_json_schema(by_alias=True)["properties"])
    for path in EXAMPLES.glob("*.yaml"):
        assert set(yaml.safe_load(path.read_text())) <= known, path.name


def test_checks_and_split_branches_take_every_event_rule():
    from journey_compiler.config.journey import Journey

    definitions = Journey.model_json_schema(by_alias=True)["$defs"]
    for spec in ("EventCheckSpec", "EventBranch"):
        assert {"did", "did_each", "did_not", "match"} <= set(definitions[spec]["properties"]), spec
    assert definitions["EventTrigger"]["properties"]["mode"]["enum"] == ["cumulative", "every", "each_of"]


def test_segment_split_modes_are_described():
    from journey_compiler.config.journey import Journey

    mode = Journey.model_json_schema(by_alias=True)["$defs"]["SegmentSplitSpec"]["properties"]["mode"]
    assert mode["enum"] == ["first_match", "all_matches"]
    assert "path of its own" in mode["description"]
