"""The differential tests' shared SQL engine, and the tally of examples checked (the hypothesis profiles
are in diff_profiles.py, chosen by HYPOTHESIS_PROFILE)."""

from __future__ import annotations

from collections import Counter

import diff_profiles
import pytest
from diff_harness import SqlEngine
from diff_profiles import EXAMPLES

_checked: Counter[str] = Counter()


@pytest.fixture(scope="session")
def sql_engine(scenario_builder, tmp_path_factory) -> SqlEngine:
    """One journeys dir, warehouse and dbt build for every example of the session (see SqlEngine)."""
    return SqlEngine(scenario_builder(tmp_path_factory.mktemp("differential"), {}))


def pytest_runtest_logreport(report) -> None:
    if report.when == "call":
        _checked[report.nodeid] += sum(v for k, v in report.user_properties if k == EXAMPLES)


def pytest_terminal_summary(terminalreporter) -> None:
    for test, count in sorted(_checked.items()):
        if count:
            terminalreporter.write_line(
                f"{test}: {count} examples passed (hypothesis profile {diff_profiles.NAME})"
            )
