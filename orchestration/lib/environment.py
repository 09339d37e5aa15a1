"""The one place that decides, from the environment, which journeys and which warehouse Dagster runs."""

from __future__ import annotations

import os
from pathlib import Path

from journey_compiler.runtime.workspace import DEFAULT_WAREHOUSE, Workspace

REPO = Path(__file__).resolve().parents[2]
"""Defaults point into the repository, so `dagster dev` in a fresh checkout shows the example shop."""


def workspace_from_env() -> Workspace:
    """JOURNEYS_DIR (default: the example shop), JOURNEYS_WAREHOUSE (default: repo `warehouse.duckdb`)."""
    return Workspace.resolve(
        os.environ.get("JOURNEYS_DIR") or REPO / "examples" / "shop",
        os.environ.get("JOURNEYS_WAREHOUSE") or REPO / DEFAULT_WAREHOUSE,
    )


def metrics_timezone() -> str:
    """The timezone of the metrics schedule's 05/11/17/23 o'clock: JOURNEYS_METRICS_TIMEZONE, default UTC."""
    return os.environ.get("JOURNEYS_METRICS_TIMEZONE") or "UTC"
