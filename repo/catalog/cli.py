"""``lantai search`` and ``lantai reindex`` (registered in ``repo/cli.py``)."""

from __future__ import annotations

import html
import re

import click
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from repo.catalog.search import SORT_ALIASES, SORTS, Catalog, Results
from repo.cli_support import Context, command, echo_json, err, out
from repo.errors import Invalid

_MARK = re.compile(r"<mark>(.*?)</mark>", re.S)


def marked(snippet_html: str) -> Text:
    """A snippet's HTML as terminal text, the matches in bold."""
    text = Text()
    pos = 0
    for m in _MARK.finditer(snippet_html):
        text.append(html.unescape(snippet_html[pos:m.start()]))
        text.append(html.unescape(m.group(1)), style="bold yellow")
        pos = m.end()
    text.append(html.unescape(snippet_html[pos:]))
    return text


def _filters(values: tuple[str, ...]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for v in values:
        name, sep, value = v.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise Invalid(f"--filter {v!r}: expected NAME=VALUE, e.g. category=XS")
        out.setdefault(name.strip(), []).append(value.strip())
    return out


def _print(results: Results, public: bool) -> None:
    start = (results.page - 1) * results.size
    where = "public catalog" if public else "staff catalog"
    shown = f"{start + 1}–{start + len(results.hits)}" if results.hits else "none"
    out.print(f"{results.total} result(s) in the {where}, showing {shown} "
              f"(page {results.page} of {max(results.pages, 1)}, sorted by {results.sort})",
              markup=False)
    if not results.complete:
        err.print("lantai: warning: this catalog is incomplete; run `lantai reindex`",
                  markup=False)
    table = Table(show_header=True, box=None, pad_edge=False)
    table.add_column("#", justify="right")
    table.add_column("reference code", overflow="fold")
    table.add_column("title", overflow="fold", ratio=1)
    table.add_column("type")
    table.add_column("year")
    for n, hit in enumerate(results.hits, start=start + 1):
        title = marked(hit.title_zh_html or hit.title_en_html)
        if hit.title_en and hit.title_zh:
            title.append(" / ")
            title.append_text(marked(hit.title_en_html))
        if hit.snippet_html:
            title.append("\n  ")
            title.append_text(marked(hit.snippet_html))
        where = hit.path or hit.iri
        title.append(f"\n  {where}", style="dim")
        table.add_row(str(n), hit.refcode, title, hit.type, str(hit.year or ""))
    out.print(table)
    for name, values in results.facets.items():
        if values:
            shown_values = ", ".join(f"{v} ({c})" for v, c in values[:12])
            more = f", … {len(values) - 12} more" if len(values) > 12 else ""
            out.print(f"[bold]{name}[/bold]: {shown_values}{more}", highlight=False)


@click.command(context_settings={"ignore_unknown_options": True})  # -照片 is a query word
@click.argument("query", nargs=-1)
@click.option("--public", is_flag=True,
              help="Search the public catalog (publication dataset only), as the public would.")
@click.option("--filter", "filters", multiple=True, metavar="NAME=VALUE",
              help="category=XS, year=1950-1959, decade=1950, type=file, access=open, "
                   "state=published, language=zh, within=IRI (repeatable).")
@click.option("--sort", default="relevance", show_default=True,
              type=click.Choice([*SORTS, *SORT_ALIASES]),
              help="relevance, date (oldest first), -date (newest first), refcode, -refcode.")
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--size", type=click.IntRange(1, 500), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable results.")
@command
def search(ctx: Context, query: tuple[str, ...], public: bool, filters: tuple[str, ...],
           sort: str, page: int, size: int, as_json: bool) -> None:
    """Search the catalog: words (西迁, letters), "phrases", reference codes, field:word.

    Chinese words are found inside longer text and in traditional or simplified form;
    English words by their stem; 0421-XS·1957-Y-0012 (or 0421-XS.1957-Y-0012) exactly, and
    0421-XS·1957 or a code with * finds everything below it. Words are all required;
    a OR b, -word (not), reloc* (prefix) and fields title:, agent:, place:, subject:,
    text:, refcode:, ocr: are understood. Staff search shows what --user may view;
    --public searches only what is published, as the public site does.
    """
    text = " ".join(query)
    if public:
        catalog = Catalog.open(ctx.home, public=True)
        results = catalog.search(text, filters=_filters(filters), sort=sort, page=page,
                                 size=size)
    else:
        catalog = Catalog.for_repository(ctx.repo)
        results = catalog.search(text, filters=_filters(filters), sort=sort, page=page,
                                 size=size, user=ctx.user)
    if as_json:
        echo_json(results.to_json())
    else:
        _print(results, public)


@click.command()
@click.option("--public", "which", flag_value="public", help="Only the public catalog.")
@click.option("--staff", "which", flag_value="staff", help="Only the staff catalog.")
@command
def reindex(ctx: Context, which: str | None) -> None:
    """Rebuild the catalogs from the stores (both, unless --public or --staff)."""
    from repo.catalog import maintainer

    m = maintainer(ctx.repo)
    columns = (TextColumn("Reindexing {task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=err, transient=False) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], completed=done, total=total, description=name)

        counts = m.rebuild(staff=which in (None, "staff"), public=which in (None, "public"),
                           progress=progress)
    for name, n in counts.items():
        out.print(f"{name} catalog: {n} object(s) indexed")
