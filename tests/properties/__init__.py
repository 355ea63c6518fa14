"""Property-based tests of txpipe's row fate against an independent oracle (tests/properties/oracle.py).

Profiles: "default" (100 examples per test, no shrinking) and "deep" (2000, shrinking), chosen with
TXPIPE_HYPOTHESIS_PROFILE=deep (or "quick": 10 examples, no shrinking, for working on these tests).
No example database is kept and nothing is written into the repo.
"""

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis also caches things (e.g. constants found in the code) under ./.hypothesis: keep that
# out of the repo unless the caller chose a place.
if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "txpipe-hypothesis")

_COMMON = {
    "deadline": None,
    "derandomize": False,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
# Shrinking costs an ingest per step (one shrink took over 5 minutes), so `make test` reports a failing
# example as generated (its file bytes and row differences are in the message) and "deep" shrinks it.
_NO_SHRINK = [Phase.explicit, Phase.generate]
settings.register_profile("default", max_examples=100, phases=_NO_SHRINK, **_COMMON)
settings.register_profile("deep", max_examples=2000, **_COMMON)
# For working on these tests: few examples, no shrinking.
settings.register_profile("quick", max_examples=10, phases=_NO_SHRINK, **_COMMON)
settings.load_profile(os.environ.get("TXPIPE_HYPOTHESIS_PROFILE", "default"))
