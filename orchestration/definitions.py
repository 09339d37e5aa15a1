"""The Dagster entry point: `dagster dev -m orchestration.definitions`."""

from orchestration.defs import build_definitions
from orchestration.lib.environment import metrics_timezone, workspace_from_env

defs = build_definitions(workspace_from_env(), metrics_timezone=metrics_timezone())
