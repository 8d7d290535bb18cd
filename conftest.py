"""Repository-wide pytest policy.

Under CI (``CI=true``) a skipped test fails: CI installs everything the suite needs (the
extras, pygame, the OpenGL libraries for headless rendering), so a skip there means an install
step is missing, not that a feature may go untested. Locally a skip stays a skip, with a
reason that says what to install.
"""

from __future__ import annotations

import os

import pytest

# Ray replaces builtins.print with its own (tqdm_ray.safe_print) the first time a progress bar
# manager starts, and ray.shutdown() does not put it back; tests that come after the Ray tests
# in the same session (doctests naming builtins.print) would see Ray's. Keep print the builtin.
os.environ.setdefault("RAY_TQDM_PATCH_PRINT", "0")


def _fail_skips_under_ci(report) -> None:
    if os.environ.get("CI") == "true" and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI, where every test must run: {report.longrepr}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_skips_under_ci(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield  # a module-level importorskip skips the whole module at collection
    _fail_skips_under_ci(outcome.get_result())
