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


def _xdist_group(item: pytest.Item) -> str | None:
    """The worker group of a test under ``--dist loadgroup``: "ray" for every test that runs a
    local Ray in the test process (one Ray per session, as without xdist), "docs-site" for every
    test that reads the built documentation site (one build), the module's path for a module
    whose tests share a costly fixture of its own; None for the rest, which go to whichever
    worker is free, one by one."""
    if item.path.name.startswith("test_ray") or any(
        name in item.nodeid for name in ("rlu_replay.ray", "scaling-out-on-ray")
    ):
        return "ray"
    if "site" in getattr(item, "fixturenames", ()):
        return "docs-site"  # tests-integration/conftest.py
    return _module_with_a_shared_fixture(item)


def _module_with_a_shared_fixture(item: pytest.Item) -> str | None:
    """The test's module, where the test uses a module- or session-scoped fixture defined in
    that module (a demo run, fresh venvs, built wheels): the module's tests then share one
    worker and the fixture is built once, not once per worker."""
    info = getattr(item, "_fixtureinfo", None)
    module = item.nodeid.split("::", 1)[0]
    for definitions in getattr(info, "name2fixturedefs", {}).values():
        definition = definitions[-1]
        if definition.scope in ("module", "session") and definition.baseid == module:
            return module
    return None


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which reads the groups off the markers
def pytest_collection_modifyitems(config, items):
    # `hatch test` runs on a pytest-xdist worker per CPU with --dist loadgroup. The groups go to
    # the workers in the order of the items: Ray's, the longest, first, then tests-integration's
    # (examples that learn, fresh installs), so that no long test is left for the end.
    # (A worker sees its --dist as "no" and loadgroup as an option of its own.)
    loadgroup = getattr(config.option, "loadgroup", False)
    if loadgroup or getattr(config.option, "dist", "no") == "loadgroup":
        groups = {item: _xdist_group(item) for item in items}
        for item, group in groups.items():
            if group is not None:
                item.add_marker(pytest.mark.xdist_group(group))
        items.sort(key=lambda item: (groups[item] != "ray", not item.nodeid.startswith("tests-")))


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield  # a module-level importorskip skips the whole module at collection
    _fail_skips_under_ci(outcome.get_result())
