"""The hypothesis profiles of the differential tests (HYPOTHESIS_PROFILE; see README.md here) and how
large a batch each one draws.

An example is one part of a batch (one to three journeys with profiles of their own) checked over one world;
a batch of up to `parts` parts and `worlds` worlds pays one compile and one dbt deploy, and one dbt run per
tick and world, for all its examples (see diff_strategies.Batch)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from hypothesis import HealthCheck, settings


@dataclass(frozen=True)
class Profile:
    batches: int
    """Hypothesis examples (batches) per test; `DIFFERENTIAL_BATCHES=N` overrides it (a shorter run)."""
    parts: tuple[int, int]
    """The fewest and most parts a batch draws (equal bounds: every batch checks as many examples)."""
    worlds: tuple[int, int]
    edit_batches: int
    """Batches of the test with journeys edited in flight (each world redeploys twice: fewer of them)."""
    cadence_batches: int
    """Batches of the cadence test: each world is ticked at two cadences, so half as many give as many SQL
    ticks as the differential test (the full count did not finish in a 3-hour session, twice)."""
    derandomize: bool = False


PROFILES = {
    "default": Profile(batches=3, parts=(1, 1), worlds=(1, 1), edit_batches=2, cadence_batches=3),
    "ci": Profile(
        batches=3, parts=(1, 1), worlds=(1, 1), edit_batches=2, cadence_batches=3, derandomize=True
    ),
    # 63 x 16 = 1,008 examples per test; with edits 16 x 16 = 256; cadence 32 x 16 = 512 (x 2 cadences)
    "deep": Profile(batches=63, parts=(4, 4), worlds=(4, 4), edit_batches=16, cadence_batches=32),
}

for name, profile in PROFILES.items():
    settings.register_profile(
        name,
        max_examples=int(os.environ.get("DIFFERENTIAL_BATCHES") or profile.batches),
        derandomize=profile.derandomize,
        deadline=None,
        # the session's SQL engine and record_property are meant to outlive an example
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
        ],
        print_blob=True,
    )
EXAMPLES = "differential_examples"
"""The user property a passing batch records with its example count (pytest-xdist passes it on to the
controller, which prints the tally: conftest.py)."""
NAME = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "default")
settings.load_profile(NAME)
ACTIVE = PROFILES[NAME]
EDIT_BATCHES = int(os.environ.get("DIFFERENTIAL_BATCHES") or ACTIVE.edit_batches)
CADENCE_BATCHES = int(os.environ.get("DIFFERENTIAL_BATCHES") or ACTIVE.cadence_batches)
