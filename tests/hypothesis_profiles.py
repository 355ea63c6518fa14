"""Hypothesis profiles, one for each test tier, chosen with TXPIPE_HYPOTHESIS_PROFILE:

- ``quick`` (the default, and `make test`): 20 examples per property, no shrinking;
- ``check`` (`make check`, CI): 100 examples per property, no shrinking;
- ``deep`` (by hand, to hunt or to shrink a failure): 1,000 examples, shrinking.

A test that sets its own number of examples scales it with :func:`examples` (its number is the
``check`` one). Shrinking costs an ingest per step (one shrink took over 5 minutes), so the tiers
report a failing example as generated (its file bytes and row differences are in the message) and
"deep" shrinks it. No example database is kept and nothing is written into the repo.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis also caches things (e.g. constants found in the code) under ./.hypothesis: keep that
# out of the repo unless the caller chose a place.
if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "txpipe-hypothesis")

PROFILE = os.environ.get("TXPIPE_HYPOTHESIS_PROFILE", "quick")
SCALE = {"quick": 0.2, "check": 1.0, "deep": 10.0}
if PROFILE not in SCALE:
    raise SystemExit(f"TXPIPE_HYPOTHESIS_PROFILE must be one of {', '.join(SCALE)}")

_COMMON = {
    "deadline": None,
    "derandomize": False,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
_NO_SHRINK = [Phase.explicit, Phase.generate]
settings.register_profile("quick", max_examples=20, phases=_NO_SHRINK, **_COMMON)
settings.register_profile("check", max_examples=100, phases=_NO_SHRINK, **_COMMON)
settings.register_profile("deep", max_examples=1000, **_COMMON)
settings.load_profile(PROFILE)


def examples(check: int) -> int:
    """A test's own number of examples (``check``: the number under the check profile), in this profile."""
    return max(5, round(check * SCALE[PROFILE]))
