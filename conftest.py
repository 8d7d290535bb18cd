"""Repository-wide pytest policy.

Under CI (``CI=true``) a skipped test fails: CI installs everything the suite needs (the
extras, pygame, the OpenGL libraries for headless rendering), so a skip there means an install
step is missing, not that a feature may go untested. Locally a skip stays a skip, with a
reason that says what to install.

Under ``RLU_HYPOTHESIS_SHARE=f`` (a fraction in (0, 1]), each property test draws that share of
the examples its ``@settings`` asks for (at least 10, at most all): ``tools/matrix.py`` sets it for
the runs on the other Pythons and at the dependency floors. Those runs check that the code works
with another interpreter or other dependency versions; ``hatch test`` keeps every example.
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


SHARE_VARIABLE = "RLU_HYPOTHESIS_SHARE"
FEWEST_EXAMPLES = 10


def _share_of_examples() -> float | None:
    """The share of its examples each property test draws, from ``RLU_HYPOTHESIS_SHARE``."""
    given = os.environ.get(SHARE_VARIABLE, "").strip()
    if not given:
        return None
    try:
        share = float(given)
    except ValueError:
        share = float("nan")
    if not 0 < share <= 1:
        raise pytest.UsageError(f"{SHARE_VARIABLE} must be a number in (0, 1], got {given!r}")
    return share


def _draw_fewer_examples(items, share: float) -> None:
    """Give each hypothesis test among ``items`` ``share`` of its ``max_examples`` (at least
    ``FEWEST_EXAMPLES``).

    hypothesis keeps a test's settings on the test it wraps (``_hypothesis_internal_use_settings``,
    read when the test runs); the new settings are derived from them, so only the number of
    examples changes. A test whose settings cannot be found keeps all of its examples.
    """
    try:
        from hypothesis import settings
    except ImportError:  # no property tests to change
        return
    changed = set()
    for item in items:
        test = getattr(item, "obj", None)
        test = getattr(test, "__func__", test)  # a test method: its function holds the settings
        if getattr(test, "hypothesis", None) is None or id(test) in changed:
            continue
        current = getattr(test, "_hypothesis_internal_use_settings", None)
        if not isinstance(current, settings):
            continue
        examples = min(
            current.max_examples, max(FEWEST_EXAMPLES, round(current.max_examples * share))
        )
        test._hypothesis_internal_use_settings = settings(current, max_examples=examples)
        changed.add(id(test))


def pytest_report_header(config):
    share = _share_of_examples()
    if share is not None:
        least = f"at least {FEWEST_EXAMPLES}"
        return f"property tests: {share:g} of their examples, {least} ({SHARE_VARIABLE})"
    return None


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which reads the groups off the markers
def pytest_collection_modifyitems(config, items):
    share = _share_of_examples()
    if share is not None and share < 1:
        _draw_fewer_examples(items, share)
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
