"""pytest plugin, loaded by ``tools/matrix.py pythons``: ``--without-fixture NAME`` deselects
every test that uses the fixture NAME, directly or through another fixture.

Where an environment marker keeps a dependency off the Python under test (dm-control on 3.13),
the tests that need it are the ones that reach it through its fixture (rlu-envtools' ``dm_suite``);
they are deselected, which pytest counts and reports, rather than skipped, which CI fails.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--without-fixture",
        action="append",
        default=[],
        metavar="NAME",
        help="deselect the tests that use fixture NAME (repeatable)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    names = set(config.getoption("without_fixture"))
    if not names:
        return
    kept, dropped = [], []
    for item in items:
        uses = names & set(getattr(item, "fixturenames", ()))
        (dropped if uses else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
