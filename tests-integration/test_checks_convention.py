"""Every distribution's argument checks read alike.

Each distribution installs alone, so each keeps its own private home for argument checks
(``_checks.py``). These tests hold the homes to one calling convention and one vocabulary:

- a public check is ``check_<what>(name, value, *, <options>)``: the argument's name first, what
  the caller passed second, every option keyword-only; a caller that wants the public function
  named in the message passes the keyword-only ``where``;
- a public predicate is ``is_<what>(value)``;
- an error class that is two built-in errors at once is ``<A>And<B>Error(<A>Error, <B>Error)``,
  and no pair of built-ins is named both ways round;
- a private helper that two homes both need is the same code in both.

Anything else a home holds is private (underscored) or lives beside the code that uses it.
"""

from __future__ import annotations

import ast
import copy
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HOMES = sorted(ROOT.glob("packages/*/src/**/_checks.py"))
PAIR = re.compile(r"^([A-Z][a-z]+)And([A-Z][a-z]+)Error$")


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _label(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _functions(path: Path) -> list[ast.FunctionDef]:
    return [node for node in _tree(path).body if isinstance(node, ast.FunctionDef)]


def _without_docstring(node: ast.FunctionDef) -> str:
    clone = copy.deepcopy(node)
    body = clone.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        clone.body = body[1:]
    return ast.dump(clone, annotate_fields=False, include_attributes=False)


def test_there_is_one_home_per_distribution() -> None:
    distributions = {path.relative_to(ROOT / "packages").parts[0] for path in HOMES}
    assert len(HOMES) >= 8
    # rlu-trees has two homes: its host trees, and its JAX trees (installed with an extra)
    assert len(HOMES) == len(distributions) + 1, [_label(p) for p in HOMES]


@pytest.mark.parametrize("path", HOMES, ids=_label)
def test_public_names_follow_the_convention(path: Path) -> None:
    wrong: list[str] = []
    for node in _tree(path).body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            args = node.args
            positional = [a.arg for a in [*args.posonlyargs, *args.args]]
            if node.name.startswith("check_"):
                if positional != ["name", "value"] or args.vararg or args.kwarg:
                    shown = ", ".join(positional)
                    wrong.append(f"{node.name}({shown}): want (name, value, *, ...)")
                for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
                    if arg.arg == "where" and not (
                        isinstance(default, ast.Constant) and default.value == ""
                    ):
                        wrong.append(f"{node.name}: 'where' must default to ''")
            elif node.name.startswith("is_"):
                if positional != ["value"] or args.kwonlyargs or args.vararg or args.kwarg:
                    wrong.append(f"{node.name}({', '.join(positional)}): want (value)")
            else:
                wrong.append(f"{node.name}: a public name that is neither check_* nor is_*")
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            if not node.name.endswith("Error"):
                wrong.append(f"class {node.name}: only error classes are public here")
            match = PAIR.match(node.name)
            if match:
                bases = [b.id if isinstance(b, ast.Name) else ast.unparse(b) for b in node.bases]
                want = [f"{match.group(1)}Error", f"{match.group(2)}Error"]
                if bases[:2] != want:
                    wrong.append(f"class {node.name}{tuple(bases)}: want bases {tuple(want)}")
    assert not wrong, f"{_label(path)}:\n" + "\n".join(wrong)


def test_no_pair_of_errors_is_named_both_ways_round() -> None:
    pairs: dict[frozenset[str], set[str]] = {}
    for path in HOMES:
        for node in _tree(path).body:
            if isinstance(node, ast.ClassDef) and (match := PAIR.match(node.name)):
                pairs.setdefault(frozenset(match.groups()), set()).add(node.name)
    mirrored = {tuple(sorted(names)) for names in pairs.values() if len(names) > 1}
    assert not mirrored


def test_helpers_shared_by_homes_are_the_same_code() -> None:
    seen: dict[str, dict[str, list[str]]] = {}
    for path in HOMES:
        for node in _functions(path):
            if node.name.startswith("_"):
                code = _without_docstring(node)
                seen.setdefault(node.name, {}).setdefault(code, []).append(_label(path))
    differing = {
        name: sorted(versions.values()) for name, versions in seen.items() if len(versions) > 1
    }
    assert not differing, differing


def test_the_convention_test_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "_checks.py"
    bad.write_text(
        "def as_int(value, name, *, where=''):\n    return value\n\n"
        "def check_bool(where, name, value):\n    return value\n\n"
        "class ValueAndTypeError(TypeError, ValueError):\n    pass\n",
        encoding="utf-8",
    )
    global ROOT
    saved = ROOT
    ROOT = tmp_path
    try:
        with pytest.raises(AssertionError) as caught:
            test_public_names_follow_the_convention(bad)
    finally:
        ROOT = saved
    message = str(caught.value)
    assert "as_int" in message
    assert "check_bool(where, name, value)" in message
    assert "ValueAndTypeError" in message
