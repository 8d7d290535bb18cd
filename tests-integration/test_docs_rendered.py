"""What a reader sees on the built site: no markup that was meant for another renderer.

Builds the site once (``mkdocs build --strict``) and reads each page's rendered text, as a browser
shows it. A failure names the page and the snippet. On every page:

- no reST directive (``.. math::``, ``.. warning::``) and no Sphinx role (``:math:`` followed by
  a backtick, or by the code it became) outside code;
- no raw LaTeX command (``\\sum``, ``\\gamma``) outside the math elements that
  ``pymdownx.arithmatex`` marks for KaTeX, inline code included (only code blocks may hold a
  backslash and letters), and the KaTeX the pages load is part of the site;
- no ANSI escape code anywhere in the HTML;
- no heading (h1-h6) that is prose or a log line (the benchmarks page's "Machine load
  average ..." once rendered as one);
- no exception class that rlu defines but does not export, named as ``refused: SomeError`` or in a
  code block, and none in what the guides' code prints when it runs (the checkpoints guide once
  printed ``refused: TruncatedDataError``, a private class a reader cannot import or catch).

The checks are plain functions of an HTML string, so ``test_the_checks_fail_on_bad_html`` can show
each of them failing.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings")

DIRECTIVE = re.compile(r"\.\.\s+[a-z][\w-]*::")
ROLE = re.compile(r":[a-z][\w-]*:(?=`)")
ROLE_BEFORE_CODE = re.compile(r":[a-z][\w-]*:$")
LATEX = re.compile(r"\\[A-Za-z]{2,}")
ANSI = re.compile(r"\x1b\[|&#0*27;\[|&#x0*1b;\[|\\u001b\[|\\x1b\[|\\033\[", re.IGNORECASE)
EXCEPTION = re.compile(r"\b[A-Z][A-Za-z0-9]*(?:Error|Exception|Warning)\b")
REFUSED = re.compile(r"refused:\s*['\"]?([A-Za-z_][A-Za-z0-9_]*)")
# A heading that is a log line or prose: what a machine printed (a timestamp, a log level, a load
# average, "Machine ..."), or a whole sentence.
LOG_HEADING = re.compile(
    r"^(?i:machine\b)|(?i:\bload average\b)|\d{4}-\d\d-\d\d[ T]\d\d:\d\d"
    r"|\b(INFO|WARNING|DEBUG|ERROR)\b[:\]]"
)
MAX_HEADING_WORDS = 14

SKIP_TAGS = {"script", "style", "svg"}
HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


# ----------------------------------------------------------------------------- reading the HTML


class Segment:
    """A run of text and where it stands: in code (``pre``: a block), in math, in a heading."""

    __slots__ = ("code", "heading", "math", "pre", "text")

    def __init__(self, text: str, *, code: bool, pre: bool, math: bool, heading: bool) -> None:
        self.text, self.code, self.pre, self.math, self.heading = text, code, pre, math, heading


class _Text(HTMLParser):
    """The text of a page in segments, and the text of each heading."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.segments: list[Segment] = []
        self.headings: list[str] = []
        self.code_after_role: list[str] = []  # ":role:" right before a <code>
        self._stack: list[tuple[str, str]] = []  # (tag, what it opens: code/pre/math/heading/skip)
        self._heading: list[str] | None = None

    def _inside(self, what: str) -> bool:
        return any(kind == what for _, kind in self._stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID:
            return
        classes = (dict(attrs).get("class") or "").split()
        kind = ""
        if tag in SKIP_TAGS:
            kind = "skip"
        elif tag == "pre":
            kind = "pre"
        elif tag == "code":
            kind = "code"
            tail = self.segments[-1].text if self.segments else ""
            role = ROLE_BEFORE_CODE.search(tail)
            if role and not self.segments[-1].code:
                self.code_after_role.append(tail[-60:].lstrip())
        elif "arithmatex" in classes or "katex" in classes:
            kind = "math"
        elif tag in HEADINGS:
            kind = "heading"
            self._heading = []
        self._stack.append((tag, kind))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i][0] == tag:
                if self._stack[i][1] == "heading" and self._heading is not None:
                    text = " ".join("".join(self._heading).split()).rstrip("¶").strip()
                    self.headings.append(text)
                    self._heading = None
                del self._stack[i:]
                return

    def handle_data(self, data: str) -> None:
        if self._inside("skip"):
            return
        if self._heading is not None and not self._inside("skip"):
            self._heading.append(data)
        self.segments.append(
            Segment(
                data,
                code=self._inside("code") or self._inside("pre"),
                pre=self._inside("pre"),
                math=self._inside("math"),
                heading=self._inside("heading"),
            )
        )


def read(html: str) -> _Text:
    parser = _Text()
    parser.feed(html)
    parser.close()
    return parser


def _snippet(text: str, start: int, end: int) -> str:
    return " ".join(text[max(0, start - 40) : end + 40].split())


# ----------------------------------------------------------------------------- the checks


def leftover_rest(html: str) -> list[str]:
    """reST directives and Sphinx roles shown as text (outside code)."""
    page = read(html)
    prose = " ".join(s.text for s in page.segments if not s.code)
    found = [f"directive: {_snippet(prose, m.start(), m.end())}" for m in DIRECTIVE.finditer(prose)]
    found += [f"role: {_snippet(prose, m.start(), m.end())}" for m in ROLE.finditer(prose)]
    found += [f"role before code: {tail}" for tail in page.code_after_role]
    return found


def raw_latex(html: str) -> list[str]:
    """LaTeX commands outside math elements and outside code blocks (inline code counts)."""
    page = read(html)
    shown = " ".join(s.text for s in page.segments if not (s.math or s.pre))
    return [_snippet(shown, m.start(), m.end()) for m in LATEX.finditer(shown)]


def ansi_codes(html: str) -> list[str]:
    """ANSI escape codes anywhere in the HTML, raw or as a character reference."""
    return [repr(html[max(0, m.start() - 40) : m.end() + 20]) for m in ANSI.finditer(html)]


def bad_headings(html: str) -> list[str]:
    """Headings that are a log line or a whole sentence of prose."""
    found = []
    for text in read(html).headings:
        if LOG_HEADING.search(text) or len(text.split()) > MAX_HEADING_WORDS:
            found.append(text)
    return found


def _private_exceptions() -> set[str]:
    """Exception classes that rlu's sources define but no package exports."""
    defined: set[str] = set()
    exported: set[str] = set()
    for path in sorted((ROOT / "packages").glob("*/src/**/*.py*")):
        if path.suffix not in (".py", ".pyi"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and EXCEPTION.fullmatch(node.name):
                defined.add(node.name)
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
            ):
                if isinstance(node.value, (ast.List, ast.Tuple)):
                    exported |= {
                        e.value
                        for e in node.value.elts
                        if isinstance(e, ast.Constant) and isinstance(e.value, str)
                    }
    return defined - exported


PRIVATE_EXCEPTIONS = _private_exceptions()


def private_exceptions_in_text(text: str, private: set[str] = PRIVATE_EXCEPTIONS) -> list[str]:
    """Names of unexported rlu exceptions in ``text`` (what a page or a program shows)."""
    names = {m.group(1) for m in REFUSED.finditer(text)} | set(EXCEPTION.findall(text))
    return sorted(names & private)


def private_exceptions(html: str, private: set[str] = PRIVATE_EXCEPTIONS) -> list[str]:
    """Unexported rlu exceptions a page shows as ``refused: Name`` or in a code block.

    A code block holds code and what it prints (in comments or output blocks); prose that names
    a private class (a changelog entry, say) is not checked.
    """
    page = read(html)
    text = " ".join(s.text for s in page.segments)
    found = [
        f"{m.group(1)}: {_snippet(text, m.start(), m.end())}"
        for m in REFUSED.finditer(text)
        if m.group(1) in private
    ]
    code = " ".join(s.text for s in page.segments if s.pre)
    for m in EXCEPTION.finditer(code):
        if m.group(0) in private and not any(f.startswith(m.group(0) + ":") for f in found):
            found.append(f"{m.group(0)}: {_snippet(code, m.start(), m.end())}")
    return found


CHECKS: dict[str, Callable[[str], list[str]]] = {
    "reST markup left as text": leftover_rest,
    "raw LaTeX outside math": raw_latex,
    "ANSI escape codes": ansi_codes,
    "a heading that is a log line or prose": bad_headings,
    "an exception class rlu does not export": private_exceptions,
}


def _report(site: Path, pages: list[Path], check: Callable[[str], list[str]]) -> list[str]:
    found = []
    for page in pages:
        for snippet in check(page.read_text(encoding="utf-8")):
            found.append(f"{page.relative_to(site)}: {snippet}")
    return found


# ----------------------------------------------------------------------------- the tests


def test_the_checks_fail_on_bad_html():
    private = {"TruncatedDataError"}
    bad = (
        "<h2>Machine load average before / after</h2>"
        "<h3>2026-12-05 07:01:02 INFO: torchrl started</h3>"
        "<p>.. warning:: Unpickling can run arbitrary code.</p>"
        "<p>See :meth:<code>rlu_trees.SumTree.sample</code> and :class:`SumTree`.</p>"
        r"<p>The return <code>\sum_k \gamma^k R_{t+k}</code> with \gamma in [0, 1].</p>"
        "<pre><code>\x1b[32mINFO\x1b[0m 3 ms</code></pre>"
        "<pre><code>refused: TruncatedDataError</code></pre>"
    )
    assert len(leftover_rest(bad)) == 3
    assert len(raw_latex(bad)) == 3
    assert len(ansi_codes(bad)) == 2
    assert ansi_codes("<p>&#27;[1m bold</p>")
    assert bad_headings(bad) == [
        "Machine load average before / after",
        "2026-12-05 07:01:02 INFO: torchrl started",
    ]
    assert bad_headings("<h2>" + "word " * (MAX_HEADING_WORDS + 1) + "</h2>")
    assert [f.split(":")[0] for f in private_exceptions(bad, private)] == ["TruncatedDataError"]
    assert private_exceptions_in_text("refused: TruncatedDataError\n", private) == [
        "TruncatedDataError"
    ]


def test_the_checks_pass_good_html():
    good = (
        '<h2 id="a">Corruption is an error, not garbage<a class="headerlink" href="#a">¶</a></h2>'
        '<p>Item <span class="arithmatex">\\(p_i / \\sum_k p_k\\)</span> is drawn.</p>'
        '<div class="arithmatex">\\[\\gamma^n\\]</div>'
        "<p>Sphinx wrote <code>:meth:`x`</code> and <code>.. note::</code>.</p>"
        '<pre><code>print("a\\nb")  # refused: CorruptedDataError</code></pre>'
        "<script>var s = '\\\\sum .. math:: :meth:`x`';</script>"
    )
    for name, check in CHECKS.items():
        assert check(good) == [], name


def test_private_exceptions_are_known():
    assert "TruncatedDataError" in PRIVATE_EXCEPTIONS
    assert "CorruptedDataError" not in PRIVATE_EXCEPTIONS  # exported by rlu_serialize


@pytest.mark.parametrize("name", list(CHECKS))
def test_rendered_pages(site, site_pages, name):
    found = _report(site, site_pages, CHECKS[name])
    assert not found, f"{name}:\n" + "\n".join(found)


def test_math_renders_with_the_bundled_katex(site):
    pages = {  # page: (an object whose docstring has math, whether it displays an equation)
        "api/rlu-noise/index.html": ("OrnsteinUhlenbeckNoise", True),
        "api/rlu-quantiles/index.html": ("quantile_cos_embedding", True),
        "api/rlu-jaxtools/index.html": ("clipped_logit", True),
        "api/rlu-replay/index.html": ("NStepTracer", False),
        "api/rlu-core/index.html": ("TransitionBatch", False),
    }
    for path, (name, display) in pages.items():
        html = (site / path).read_text(encoding="utf-8")
        assert name in html, path
        assert re.search(r'<span class="arithmatex">\\\(', html), f"{path}: no inline math"
        if display:
            assert re.search(r'<div class="arithmatex">\\\[', html), f"{path}: no displayed math"
        for asset in ("katex/katex.min.js", "math.js", "katex/katex.min.css"):
            assert re.search(rf'(src|href)="[./]*assets/{re.escape(asset)}"', html), (path, asset)
    katex = site / "assets" / "katex"
    css = (katex / "katex.min.css").read_text(encoding="utf-8")
    fonts = re.findall(r"url\(([^)]+)\)", css)
    assert fonts, "katex.min.css names no fonts"
    missing = [font for font in fonts if not (katex / font.strip("'\"")).is_file()]
    assert not missing, f"fonts katex.min.css asks for but the site lacks: {missing}"
    assert (katex / "katex.min.js").stat().st_size > 100_000


def test_what_the_guides_print_names_only_exported_exceptions(tmp_path, monkeypatch):
    """Run the pages whose code catches exceptions and read what they print."""
    from test_docs_guides import GUIDES, NEEDS, python_blocks

    found = []
    for page in GUIDES:
        blocks = python_blocks(page.read_text(encoding="utf-8"))
        if page.stem in NEEDS or not any("except" in code for _, code in blocks):
            continue  # the Ray page's refusals come from Ray; it is run by test_docs_guides
        workdir = tmp_path / page.stem
        workdir.mkdir()
        monkeypatch.chdir(workdir)
        namespace: dict[str, object] = {"__name__": f"guide_{page.stem.replace('-', '_')}"}
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            for line, code in blocks:
                exec(compile(code, f"{page.relative_to(ROOT)}:{line}", "exec"), namespace)
        for name in private_exceptions_in_text(out.getvalue()):
            found.append(f"{page.relative_to(ROOT)} prints {name}")
    assert not found, "exception classes rlu does not export, in printed output:\n" + "\n".join(
        found
    )
