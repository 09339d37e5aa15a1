"""Hypothesis profiles for the differential tests, chosen by HYPOTHESIS_PROFILE (see README.md here).

Every example builds a dbt project and runs real ticks (about a second each), so the default profile runs
few examples; `deep` runs a thousand. In CI (`CI=true`) the default run is derandomized: reproducible.
"""

from __future__ import annotations

import os

import pytest
from diff_harness import SqlEngine
from hypothesis import HealthCheck, settings

_COMMON = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile("default", max_examples=3, **_COMMON)
settings.register_profile("ci", max_examples=3, derandomize=True, **_COMMON)
settings.register_profile("deep", max_examples=1000, **_COMMON)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "default")
)


@pytest.fixture(scope="session")
def sql_engine(scenario_builder, tmp_path_factory) -> SqlEngine:
    """One journeys dir, warehouse and dbt build for every example of the session (see SqlEngine)."""
    return SqlEngine(scenario_builder(tmp_path_factory.mktemp("differential"), {}))
