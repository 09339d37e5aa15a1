"""`journeys compile --target spark`: every generated model written in Spark SQL from the same ASTs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from journey_compiler.config.project import load_project
from journey_compiler.render import compile_project
from journey_compiler.warehouse.dialect import TARGETS
from journey_compiler.warehouse.spark_warehouse import PROFILES

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "shop"
JOURNEYS = str(Path(sys.executable).parent / "journeys")


def test_every_target_is_a_dbt_output() -> None:
    outputs = yaml.safe_load(PROFILES.read_text())["journeys"]["outputs"]
    assert sorted(outputs) == sorted(TARGETS)
    assert {outputs[t]["type"] for t in TARGETS} == set(TARGETS)


def compile_for(target: str, warehouse: Path, *args: str) -> subprocess.CompletedProcess[str]:
    place = ["--dir", str(EXAMPLES), "--warehouse", str(warehouse), "--target", target]
    return subprocess.run([JOURNEYS, "compile", *place, *args], capture_output=True, text=True)


def test_compile_writes_spark_models(tmp_path: Path) -> None:
    done = compile_for("spark", tmp_path / "w.spark", "--out", str(tmp_path / "models"))
    assert done.returncode == 0, done.stderr
    written = {p.name: p.read_text() for p in (tmp_path / "models").iterdir()}
    assert written == compile_project(load_project(EXAMPLES), "spark").files
    welcome = written["jrn_welcome_series.sql"]
    # the A/B bucket's hex step in Spark's words; the DuckDB models keep theirs
    assert "CONV(" in welcome and "'0x'" not in welcome
    assert "'0x'" in compile_project(load_project(EXAMPLES)).files["jrn_welcome_series.sql"]
    built = tmp_path / "w.spark.dbt" / "models" / "journeys" / "jrn_welcome_series.sql"
    assert built.read_text() == welcome


def test_unknown_target_is_one_line(tmp_path: Path) -> None:
    done = compile_for("trino", tmp_path / "w")
    assert done.returncode == 1
    assert done.stderr.strip() == "error: unknown target 'trino': use one of duckdb, spark"
