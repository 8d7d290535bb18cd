"""mkdocs hook: the API section of the site, built from the packages themselves.

- The navigation: ``API`` lists the index (``docs/api/index.md``), the meta-package's page
  (``docs/api/rlu.md``) and one page per distribution read from ``packages/*/pyproject.toml``, so
  a new distribution needs only its page ``docs/api/<distribution>.md`` (the build fails without).
- The index: every name in the ``__all__`` of every public module (``rlu_trees``,
  ``rlu_trees.jax``, ...), with a link to its entry, its one-line summary and where else it is
  exported; written where the page says ``<!-- api-index -->``.
- The meta-package's table: each name ``rlu`` and ``rlu.utils`` export and the module that owns it,
  read from ``rlu/_names.py``; written where the page says ``<!-- rlu-names -->``.
- Each API page gets its distribution's version (from ``__about__.py``) under its title, linked to
  the changelog entry of that version, and a search boost, so that a search for a name lists its
  entry before pages that only mention it.

Everything is read with ``ast`` (versions by ``tools/release.py``): nothing here imports a
package.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hook_tools import ROOT, tool
from markdown.extensions.toc import slugify

META = "rlu"
SEARCH_BOOST = 10  # lunr multiplies a page's score by this; other pages have 1
INDEX_MARK = "<!-- api-index -->"
NAMES_MARK = "<!-- rlu-names -->"


def _release_tool() -> Any:
    """``tools/release.py``: where the distributions and their versions are read, once for all."""
    return tool("release")


def _distributions() -> list[str]:
    return [name for name in _release_tool().distributions() if name != META]


def _package_dir(dist: str) -> Path:
    return ROOT / "packages" / dist / "src" / dist.replace("-", "_")


def _version(dist: str) -> str:
    tool = _release_tool()
    return str(tool.fmt(tool.read_version(dist)))


def _changelog_anchor(dist: str, version: str) -> str | None:
    """The id of the changelog heading ``## <dist> <version> (...)``, as toc makes it."""
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    match = re.search(rf"^## ({re.escape(dist)} {re.escape(version)}\b.*)$", text, re.MULTILINE)
    return slugify(match.group(1).strip(), "-") if match else None


@dataclass
class _Name:
    module: str  # the public module whose __all__ lists it: rlu_trees.jax
    name: str
    origin: str  # the module it is imported from in that __init__.py
    summary: str


def _docstring_summary(node: ast.AST) -> str:
    doc = ast.get_docstring(node) if isinstance(node, ast.FunctionDef | ast.ClassDef) else None
    if not doc:
        return ""
    return " ".join(doc.strip().split("\n\n")[0].split())


def _summary(origin: str, name: str, seen: frozenset[str] = frozenset()) -> str:
    """First paragraph of the docstring of ``name`` as defined in module ``origin``."""
    parts = origin.split(".")
    pkg = parts[0]
    dist = next((d for d in [*_distributions(), META] if d.replace("-", "_") == pkg), None)
    if dist is None or origin in seen:
        return ""
    base = _package_dir(dist).joinpath(*parts[1:])
    path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
    if not path.is_file():
        return ""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for i, node in enumerate(tree.body):
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name == name:
            return _docstring_summary(node)
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            after = tree.body[i + 1] if i + 1 < len(tree.body) else None
            if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant):
                return " ".join(str(after.value.value).strip().split("\n\n")[0].split())
            return ""
    for node in ast.walk(tree):  # a re-export, maybe under `if TYPE_CHECKING:`
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    return _summary(node.module, alias.name, seen | {origin})
    return ""


def _public_names(dist: str) -> list[_Name]:
    """Every name in the ``__all__`` of the distribution's public modules, less ``__version__``."""
    top = _package_dir(dist)
    found = []
    for init in sorted(top.rglob("__init__.py")):
        rel = init.parent.relative_to(top.parent).parts
        if any(part.startswith("_") for part in rel):
            continue
        module = ".".join(rel)
        tree = ast.parse(init.read_text(encoding="utf-8"))
        exported: list[str] = []
        origins: dict[str, str] = {}
        for node in ast.walk(tree):  # imports under `if TYPE_CHECKING:` too
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    origins[alias.asname or alias.name] = node.module
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
            ):
                exported = list(ast.literal_eval(node.value))
        for name in exported:
            if name != "__version__":
                origin = origins.get(name, module)
                found.append(_Name(module, name, origin, _summary(origin, name)))
    return found


def _meta_names() -> tuple[dict[str, str], set[str]]:
    """``rlu``'s table: name -> owning module, and the names that are coax.utils'."""
    path = _package_dir(META) / "_names.py"
    tables: dict[str, dict[str, tuple[str, ...]]] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if node.target.id in ("OWNERS", "EXTRAS") and node.value is not None:
                tables[node.target.id] = ast.literal_eval(node.value)
    owners = {n: m for table in tables.values() for m, names in table.items() for n in names}
    coax = {n for names in tables["OWNERS"].values() for n in names}
    return owners, coax


def _documented() -> dict[str, str]:
    """Identifier -> API page, for every ``::: identifier`` on the API pages."""
    pages = {}
    for page in sorted((ROOT / "docs" / "api").glob("*.md")):
        for match in re.finditer(r"^::: *([\w.]+)", page.read_text(encoding="utf-8"), re.M):
            pages[match.group(1)] = page.name
    return pages


def _is_public(module: str) -> bool:
    return not any(part.startswith("_") for part in module.split("."))


def _link(entry: _Name, documented: dict[str, str], page: str) -> str:
    """A Markdown link to the entry that documents ``entry`` (from a page in docs/api/)."""
    own = f"{entry.module}.{entry.name}"
    if own in documented:
        return f"[`{entry.name}`][{own}]"
    origin = f"{entry.origin}.{entry.name}"
    if _is_public(entry.origin) and origin in documented:
        return f"[`{entry.name}`][{origin}]"
    return f"[`{entry.name}`]({page})"  # described in the page's prose, not an entry of its own


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _index_markdown() -> str:
    documented = _documented()
    owners, _ = _meta_names()
    lines = []
    for dist in _distributions():
        names = _public_names(dist)
        lines += [
            f"## {dist}",
            "",
            f"Version {_version(dist)}. [The page]({dist}.md).",
            "",
            "| Name | Module | Summary | Also exported as |",
            "| --- | --- | --- | --- |",
        ]
        for entry in names:
            also = []
            if entry.module != entry.origin and _is_public(entry.origin):
                also.append(f"`{entry.origin}.{entry.name}`")
            if owners.get(entry.name) == entry.module:
                also += [f"`rlu.{entry.name}`", f"`rlu.utils.{entry.name}`"]
            lines.append(
                f"| {_link(entry, documented, f'{dist}.md')} | `{entry.module}` "
                f"| {_cell(entry.summary)} | {', '.join(also)} |"
            )
        lines.append("")
    return "\n".join(lines)


def _meta_markdown() -> str:
    documented = _documented()
    owners, coax = _meta_names()
    module_dist = {}
    for dist in _distributions():
        for entry in _public_names(dist):
            module_dist.setdefault(entry.module, dist)
    lines = [
        "| Name | Owner | In `coax.utils` |",
        "| --- | --- | --- |",
    ]
    for name in sorted(owners, key=str.lower):
        module = owners[name]
        dist = module_dist[module]
        entry = _Name(module, name, module, "")
        link = _link(entry, documented, f"{dist}.md")
        lines.append(f"| {link} | `{module}` ({dist}) | {'yes' if name in coax else ''} |")
    left = [
        f"`{entry.module}.{entry.name}`"
        for dist in _distributions()
        for entry in _public_names(dist)
        if entry.name not in owners
    ]
    if left:
        lines += [
            "",
            "Public names of the distributions that `rlu` does not re-export (import them from "
            "their own module): " + ", ".join(left) + ".",
        ]
    return "\n".join(lines)


def on_config(config: Any) -> Any:
    api = ROOT / "docs" / "api"
    pages: list[Any] = ["api/index.md", {"rlu and rlu.utils": "api/rlu.md"}]
    for dist in _distributions():
        if not (api / f"{dist}.md").exists():
            raise FileNotFoundError(f"{dist} has no API page: write docs/api/{dist}.md")
        pages.append({dist: f"api/{dist}.md"})
    for item in config["nav"]:
        if isinstance(item, dict) and "API" in item:
            item["API"] = pages
            break
    else:
        config["nav"].append({"API": pages})
    return config


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    src = page.file.src_uri
    if not src.startswith("api/"):
        return markdown
    page.meta.setdefault("search", {}).setdefault("boost", SEARCH_BOOST)
    stem = src.removeprefix("api/").removesuffix(".md")
    if stem == "index":
        return markdown.replace(INDEX_MARK, _index_markdown())
    if stem == META:
        markdown = markdown.replace(NAMES_MARK, _meta_markdown())
    if stem in (*_distributions(), META):
        version = _version(stem)
        anchor = _changelog_anchor(stem, version)
        line = f"Version {version}"
        if anchor:
            line += f" ([changelog](../changelog.md#{anchor}))"
        title, sep, rest = markdown.partition("\n")
        if not title.startswith("# "):
            raise ValueError(f"docs/{src} must open with its '# ' title")
        markdown = f"{title}\n\n{line}\n{sep}{rest}"
    return markdown
