"""Every public-looking module that only keeps old pickles loading says so, and no new one appears.

The distributions assemble their public names in ``__init__``; their code lives in underscore
modules. A module without an underscore is either the meta-package's ``rlu.utils`` (coax's
``coax.utils`` path) or a compatibility module kept so that pickles written by 0.1.x releases
still find their classes: its docstring starts by saying so.
"""

from __future__ import annotations

import ast
from pathlib import Path

from workspace import REPO

COMPATIBILITY = {  # module -> the release whose pickles record it
    "rlu_core/vocabulary.py": "rlu-core 0.1.0",
    "rlu_envtools/preprocessing.py": "rlu-envtools 0.1.0",
    "rlu_envtools/transition.py": "rlu-envtools 0.1.0",
    "rlu_jaxtools/picklable_jit.py": "rlu-jaxtools 0.1.0",
    "rlu_noise/ornstein_uhlenbeck.py": "rlu-noise 0.1.0",
    "rlu_noise/schedule.py": "rlu-noise 0.1.0",
    "rlu_serialize/errors.py": "rlu-serialize 0.1.0",
}
PUBLIC = {"rlu/utils.py"}  # coax.utils's drop-in path


def public_modules() -> set[str]:
    found = set()
    for path in REPO.glob("packages/*/src/**/*.py"):
        rel = Path(*path.relative_to(REPO).parts[3:])  # below packages/<dist>/src/
        if not any(part.startswith("_") for part in rel.parts):
            found.add(rel.as_posix())
    return found


def test_the_public_looking_modules_are_known():
    assert public_modules() == set(COMPATIBILITY) | PUBLIC


def test_compatibility_modules_say_what_they_are_for():
    for rel, release in COMPATIBILITY.items():
        (path,) = REPO.glob(f"packages/*/src/{rel}")
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        assert doc.startswith("Compatibility module"), rel
        assert release in doc, (rel, release)
