"""The hypothesis profiles tests/conftest.py offers do what docs/safety.md says they do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hypothesis import settings

TESTS = Path(__file__).parent


def test_nightly_profile_draws_new_and_more_examples():
    nightly, ci = settings.get_profile("nightly"), settings.get_profile("ci")
    assert not nightly.derandomize
    assert ci.derandomize
    assert nightly.max_examples >= 10 * ci.max_examples
    assert nightly.deadline is None


def test_profile_is_chosen_by_environment(tmp_path):
    probe = tmp_path / "test_probe.py"
    probe.write_text(
        "from hypothesis import settings\n"
        "def test_p():\n"
        "    s = settings.default\n"
        "    assert (s.max_examples, s.derandomize) == (2000, False), s\n"
    )
    (tmp_path / "conftest.py").write_text((TESTS / "conftest.py").read_text())
    env = {**os.environ, "HYPOTHESIS_PROFILE": "nightly"}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(probe)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
