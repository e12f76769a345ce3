import atexit
import logging
import os
import shutil
import tempfile

import pytest
from hypothesis import HealthCheck, settings

# Jitted kernels compile on first use; deadlines would flag the compile, not the code.
_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow], "print_blob": True}
settings.register_profile("default", max_examples=60, **_COMMON)
settings.register_profile("ci", max_examples=60, derandomize=True, **_COMMON)
settings.register_profile("thorough", deadline=None, max_examples=1000)
# The ci profile repeats the same examples every run (derandomize); nightly draws new ones, many
# more, and keeps failures in the example database: HYPOTHESIS_PROFILE=nightly pytest -m "not slow"
settings.register_profile("nightly", max_examples=2000, derandomize=False, **_COMMON)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default")
)

# Simulated data the tests cache (demo data of the examples) goes to a folder of this session,
# never to the user's cache or one left by another run, version or user.
_CACHE = tempfile.mkdtemp(prefix="maskkit-test-cache-")
os.environ["MASKKIT_CACHE_DIR"] = _CACHE
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)


@pytest.fixture
def maskkit_log(tmp_path):
    """ERROR records of the maskkit logger, from this process and forked workers."""
    path = tmp_path / "maskkit.log"
    handler = logging.FileHandler(path)
    handler.setLevel(logging.ERROR)
    logger = logging.getLogger("maskkit")
    logger.addHandler(handler)
    yield lambda: path.read_text()
    logger.removeHandler(handler)
    handler.close()
