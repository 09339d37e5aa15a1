"""One local Spark session for the whole run of these tests (a JVM costs seconds and a core to start).

Its warehouse directory (Derby metastore and tables) is a temporary folder of the session; every Spark
test module shares it, so keep the Spark tests in this folder and run them alone (`-n 0`). Under xdist the
modules carry the group `spark`, so `--dist loadgroup` keeps them on one worker, one JVM.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from journey_compiler.warehouse.spark_warehouse import SparkWarehouse


@pytest.fixture(scope="session")
def spark_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("spark") / "warehouse.spark"


@pytest.fixture(scope="session")
def spark(spark_dir: Path) -> SparkWarehouse:
    return SparkWarehouse(spark_dir)
