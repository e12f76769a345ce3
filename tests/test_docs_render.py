"""Build the documentation site and check what a reader sees in the rendered HTML.

``mkdocs build --strict`` passes on pages that render wrongly: a formatter that rewrites a
snippet line inside a code fence leaves the fence showing ``--8 < --"..."`` instead of the
script, and a Sphinx role in a docstring (``:func:`x```) shows up as raw text. These tests read
the built pages, so a formatter, a plugin or a docstring cannot blank or garble them silently.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SNIPPET = re.compile(r'^--8<-- "([^"]+\.py)"\s*$', re.MULTILINE)
# A Sphinx/reST role as it survives markdown rendering: ":func:" then the name (the backticks
# become <code>, which _text strips).
ROLE = re.compile(
    r":(?:py:)?(?:func|class|meth|mod|attr|data|exc|obj|const|ref|doc|term|any|fun):(?=\S)"
)
SNIPPET_MARK = re.compile(r"--8\s*<\s*--")
# reST inline literals (``x``) where markdown does not parse them: a docstring's type field
# (``numpy.ndarray, the shape of ``haps`` ``) renders inside <code>, backticks and all.
RST_LITERAL = re.compile(r"``")
# A pipe escaped for a markdown table inside a code span: the code shows the backslash.
ESCAPED_PIPE = re.compile(r"\\\|")
# reST's literal-block marker ("Layout of ``outdir``::") shows as a double colon.
RST_BLOCK_MARK = re.compile(r"\S::(?=\s|$)")
# A list bullet markdown did not parse (e.g. a list item glued to the paragraph above it).
LOOSE_BULLET = re.compile(r"(?m)^[ \t]*\* (?=\S)")
CODE_BLOCK = re.compile(r"<pre[^>]*>(.*?)</pre>", re.DOTALL)
TAG = re.compile(r"<[^>]+>")

pytestmark = pytest.mark.slow


def _text(fragment: str) -> str:
    return html.unescape(TAG.sub("", fragment))


def _page_html(site: Path, page: Path) -> str:
    rel = page.relative_to(DOCS).with_suffix("")
    out = site / (rel.parent if rel.name == "index" else rel) / "index.html"
    assert out.is_file(), f"{page} was not built to {out}"
    return out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    return out


def _integration_pages() -> list[Path]:
    return sorted(p for p in (DOCS / "integrations").glob("*.md") if p.name != "index.md")


def test_every_integration_page_includes_a_script() -> None:
    pages = _integration_pages()
    assert len(pages) >= 4, pages
    for page in pages:
        scripts = SNIPPET.findall(page.read_text(encoding="utf-8"))
        assert any(s.startswith("examples/integrations/") for s in scripts), (
            f'{page}: no `--8<-- "examples/integrations/....py"` line (a formatter may have '
            "rewritten it; keep the fence inside <!-- fmt: off --> ... <!-- fmt: on -->)"
        )


@pytest.mark.parametrize("page", _integration_pages(), ids=lambda p: p.stem)
def test_integration_page_shows_its_script(site: Path, page: Path) -> None:
    code = "\n".join(_text(block) for block in CODE_BLOCK.findall(_page_html(site, page)))
    scripts = SNIPPET.findall(page.read_text(encoding="utf-8"))
    assert scripts, f"{page}: no snippet line"
    for script in scripts:
        source = (ROOT / script).read_text(encoding="utf-8")
        lines = [line.rstrip() for line in source.splitlines() if line.strip()]
        missing = [line for line in lines if line not in code]
        assert not missing, (
            f"{page}: {len(missing)} lines of {script} not shown, first {missing[0]!r}"
        )


# Pages of measured results state today's numbers with their command and date; how they came
# about belongs in the CHANGELOG. Wording that only makes sense inside a work log:
PROGRESS_LOG = re.compile(
    r"this round|the issue'?s?\b|before the port|older masks|uncommitted|\(#\d+\)|since #\d+",
    re.IGNORECASE,
)
RESULT_PAGES = ("trainer.md", "beagle.md", "benchmarks.md", "ablation.md", "impute.md")


@pytest.mark.parametrize("name", RESULT_PAGES)
def test_result_pages_read_as_the_current_state(name: str) -> None:
    text = (DOCS / name).read_text(encoding="utf-8")
    hits = [
        f"line {text.count(chr(10), 0, m.start()) + 1}: {m.group(0)!r}"
        for m in PROGRESS_LOG.finditer(text)
    ]
    assert not hits, f"docs/{name} reads as a work log: " + "; ".join(hits)


def test_no_page_shows_raw_markup(site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= 20, f"only {len(pages)} pages built"
    bad = []
    for out in pages:
        raw = out.read_text(encoding="utf-8")
        # The page body only: the search index and navigation repeat every page's headings.
        body = raw.split('<article class="md-content__inner md-typeset">', 1)[-1]
        text = _text(body)
        # Prose and inline code, without code blocks (which may show any markup on purpose).
        prose = _text(CODE_BLOCK.sub("", body))
        checks = (
            (ROLE, text),
            (SNIPPET_MARK, text),
            (LOOSE_BULLET, prose),
            (RST_LITERAL, prose),
            (ESCAPED_PIPE, prose),
            (RST_BLOCK_MARK, prose),
        )
        for pattern, where in checks:
            hit = pattern.search(where)
            if hit:
                start = max(0, hit.start() - 40)
                bad.append(f"{out.relative_to(site)}: {where[start : hit.end() + 40]!r}")
    assert not bad, "raw markup in rendered pages:\n" + "\n".join(bad)


# One documented object of the API pages: its heading, then its signature and its tables.
DOC_HEADING = re.compile(r'<h\d id="([^"]+)" class="doc doc-heading">')
SIGNATURE = re.compile(r'<div class="doc-signature highlight"><pre>(.*?)</pre>', re.DOTALL)
PARAM_TABLE = re.compile(r"Parameters:</span></p>\s*<table>(.*?)</table>", re.DOTALL)
TABLE_ROW = re.compile(r'<tr class="doc-section-item">(.*?)</tr>', re.DOTALL)
TABLE_CELL = re.compile(r"<td>(.*?)</td>", re.DOTALL)


def _signature_defaults(signature: str) -> dict[str, str | None]:
    """Map each parameter of a rendered signature to its default's text (None: no default)."""
    inner = signature[signature.index("(") + 1 : signature.rindex(")")]
    params, depth, current = [], 0, ""
    for ch in inner + ",":
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            params.append(current.strip())
            current = ""
        else:
            current += ch
    out: dict[str, str | None] = {}
    for param in filter(None, params):
        name = re.match(r"\**\w*", param).group(0)  # type: ignore[union-attr]
        _, eq, default = param.partition("=")
        # A long default is laid out over several lines ("(\n 0.8,\n 0.1,\n)"); the
        # table shows it on one.
        flat = " ".join(default.split()).replace("( ", "(").replace(", )", ")")
        out[name] = flat if eq else None
    return out


def _same_default(shown: str, signature: str | None) -> bool:
    """Whether a table's Default cell agrees with the signature's default."""
    if signature is None:
        return shown == "required"
    if shown.replace("'", '"') == signature:
        return True
    try:
        return float(shown) == float(signature)
    except ValueError:
        pass
    # A docstring may spell out a named constant's value (``edges`` "(0.01, 0.05)" for
    # DEFAULT_EDGES, ``ignore_index`` "-100" for IGNORE_INDEX); another name is a wrong row.
    return bool(re.fullmatch(r"[A-Z][A-Z0-9_]*", signature)) and not re.fullmatch(
        r"[A-Za-z_][\w.]*", shown
    )


def test_api_parameter_tables_match_signatures(site: Path) -> None:
    """Every row of a Parameters table names a real parameter and shows the signature's
    default, *required* where it has none (a docstring line grouping names, or a stale name,
    renders rows that contradict the signature: each row typed and defaulted like the first)."""
    bad, rows = [], 0
    for out in sorted((site / "api").rglob("index.html")):
        raw = out.read_text(encoding="utf-8")
        heads = list(DOC_HEADING.finditer(raw))
        for i, head in enumerate(heads):
            end = heads[i + 1].start() if i + 1 < len(heads) else len(raw)
            part = raw[head.end() : end]
            table = PARAM_TABLE.search(part)
            if table is None:
                continue
            signature = SIGNATURE.search(part)
            if signature is None:
                bad.append(f"{head.group(1)}: a Parameters table without a signature")
                continue
            defaults = _signature_defaults(_text(signature.group(1)))
            takes_kwargs = any(name.startswith("**") for name in defaults)
            for row in TABLE_ROW.findall(table.group(1)):
                cells = [_text(cell).strip() for cell in TABLE_CELL.findall(row)]
                name, default = cells[0], cells[-1]
                rows += 1
                if name.startswith("*"):
                    continue
                if name not in defaults:
                    if not takes_kwargs:
                        bad.append(f"{head.group(1)}: {name!r} is not a parameter")
                elif not _same_default(default, defaults[name]):
                    bad.append(
                        f"{head.group(1)}: {name!r} says {default!r}, "
                        f"the signature {defaults[name] or 'no default'!r}"
                    )
    assert rows >= 100, f"only {rows} parameter rows found: did the page layout change?"
    assert not bad, "parameter tables that contradict their signatures:\n" + "\n".join(bad)
