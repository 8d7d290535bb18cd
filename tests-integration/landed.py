"""The distributions that have landed on main.

The one place to add a distribution the day it lands: the API table then expects its names to
be reachable (its strict xfail would otherwise fail), and it gets its fresh-venv install test
and its doctest run.
"""

LANDED = (
    "rlu-core",
    "rlu-noise",
    "rlu-trees",
    "rlu-serialize",
    "rlu-jaxtools",
    "rlu-quantiles",
    "rlu-envtools",
)
