"""The reference tests' fixture; the harness itself is ref_harness.py."""

from __future__ import annotations

import pytest
from ref_harness import Ref, write_project


@pytest.fixture
def make_ref(tmp_path):
    """`make_ref({"file_stem": yaml_text}, extra_files={...})` -> a Ref with an empty world."""
    made = 0

    def make(journeys: dict[str, str], extra_files: dict[str, str] | None = None) -> Ref:
        nonlocal made
        made += 1
        return Ref(write_project(tmp_path / f"dir{made}", journeys, extra_files))

    return make
