"""The ``lantai`` command: the repository from a terminal.

Every command acts as a user (``--user``, ``LANTAI_USER``, default ``admin``) and goes through
the same :class:`~repo.repository.Repository` checks as the web API. Who can run ``lantai`` on
the server can read the store's files anyway; the user name says whose permissions apply and
who is recorded in the history. Errors print one line and exit non-zero:
1 general, 2 usage, 3 not found, 4 forbidden, 5 invalid, 6 conflict, 7 workflow, 8 busy.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from rich.table import Table

from external.cli import engine_group
from external.replica import replica_command
from iiif.ingest_cli import ingest_group, ocr_cmd
from preservation import keys
from preservation.cli import key_file_option
from preservation.cli import register as register_preservation
from repo import dates
from repo.catalog.cli import reindex, search
from repo.cli_support import Context, command, echo_json, err, fail, out, progress_bar
from repo.durable import output_path, write_atomically
from repo.errors import LantaiError
from repo.exporters.cli import ead_export
from repo.importers.cli import import_group
from repo.objects import ContentObject
from repo.repository import Repository
from repo.users_cli import users
from repo.values import Assignment
from services.filing.cli import filing_group
from services.growth.cli import growth_group
from services.requests import signing
from services.requests.cli import requests_group, signing_group


def _assignments(values: tuple[str, ...], date: str | None = None) -> list[Assignment]:
    """``--set`` values, and ``--date`` as written with the beginning and end read from it
    (:mod:`repo.dates`, the reading the staff forms use)."""
    return [Assignment.parse(v) for v in values] + (dates.parse(date).assignments()
                                                    if date is not None else [])


DATE_HELP = ("A date as written (1956年8月, 1957-09, 1956/1958, 约1950): stored as written, "
             "with begin and end read from it.")


def _summary(obj: ContentObject, base: str) -> dict:
    return {
        "iri": obj.iri, "path": obj.path, "type": obj.type_name, "state": obj.state,
        "access": obj.access,
        "openingDate": obj.opening_date.isoformat() if obj.opening_date else None,
        "revision": obj.revision, "owner": obj.owner,
        "personalFields": sorted(obj.personal_fields),
        "fields": {k: [list(v) if isinstance(v, tuple) else v for v in vs]
                   for k, vs in obj.fields(base).items()},
    }


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--home", type=click.Path(path_type=Path), default=None,
              help="Site home folder (env LANTAI_HOME; default ./lantai-data).")
@click.option("--user", "user", default=None,
              help="Act as this user (env LANTAI_USER; default admin).")
@key_file_option
@click.version_option(package_name="lantai")
@click.pass_context
def main(click_ctx: click.Context, home: Path | None, user: str | None) -> None:
    """Lantai (兰台): an archival repository publishing RiC-O linked data.

    Objects are named by their path (/xjtu/students) or their IRI. Fields are set as
    FIELD=VALUE or, for text, FIELD@LANG=VALUE (title@zh=西迁, title@en="Westward move").
    `lantai types` lists the content types and their fields.
    """
    click_ctx.obj = Context(home, user)


# ---------------------------------------------------------------------- site
@main.command()
@click.option("--base", required=True, help="Base IRI, e.g. https://archive.example.edu")
@click.option("--embargo-years", default=25, show_default=True, type=click.IntRange(0, 200),
              help="Default closure period from a record's date.")
@click.option("--admin", default="admin", show_default=True, help="Name of the first Manager.")
@click.option("--password-stdin", is_flag=True, help="Read the Manager's password from stdin.")
@key_file_option
@click.pass_obj
def init(ctx: Context, base: str, embargo_years: int, admin: str, password_stdin: bool) -> None:
    """Create a site: settings, empty stores and a Manager account."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    try:
        # a key named by --key-file / LANTAI_KEY_FILE must exist and lie outside the site,
        # checked before anything is made (`lantai keys new -o FILE` makes one)
        keys.check_init_key(ctx.home)
        repo, token = Repository.init(ctx.home, base, embargo_years=embargo_years, admin=admin,
                                      admin_password=password)
    except LantaiError as exc:
        fail(exc)
    repo.close()
    keys.site_master_key(ctx.home, create=True)  # files sealed under it (preservation.keyring)
    signing.ensure_site_signer(ctx.home)  # the seal of certified copies: a local CA
    out.print(f"Site {repo.base} in {ctx.home}", markup=False)
    if token:
        out.print(f"API token for {admin} (shown once): {token}", markup=False)


@main.command()
@command
def demo(ctx: Context) -> None:
    """Load the demo archive, demo record requests, the filing loop's 2026 plan and the pilot
    graduates' accounts (idempotent: objects and accounts already there are left alone;
    requests and submissions are made once; new accounts' passwords are printed once)."""
    from repo.demo import load_demo

    with progress_bar("Loading demo archive") as bar:
        task = bar.add_task("demo", total=None)
        created = load_demo(ctx.repo, ctx.user,
                            progress=lambda n, total: bar.update(task, completed=n, total=total))
    out.print(f"{created} object(s) created; the demo archive is in {ctx.home}")
    from services.requests.demo import load_demo_requests  # 查档: requests in every state

    out.print(f"{len(load_demo_requests(ctx.home, ctx.repo, ctx.user))} demo request(s) made")
    from services.filing.demo import load_demo_filing  # the filing loop in every state
    from services.growth.demo import load_demo_growth  # the pilot graduates' accounts

    filing = load_demo_filing(ctx.home, ctx.repo, ctx.user)
    out.print(f"{len(filing.submissions)} demo filing submission(s) made", markup=False)
    growth = load_demo_growth(ctx.home, ctx.repo, ctx.user)
    if growth.consented:
        out.print(f"{len(growth.consented)} growth record item(s) shown with consent",
                  markup=False)
    for name, password in {**filing.passwords, **growth.passwords}.items():
        out.print(f"Demo account {name}, password (shown once): {password}", markup=False)


@main.command()
@command
def types(ctx: Context) -> None:
    """List the content types and their fields."""
    from ontology.profile import load_profile

    for t in sorted(load_profile().types.values(), key=lambda t: t.name):
        table = Table(title=f"{t.name} — {t.label_zh} {t.label_en} "
                            f"(in: {', '.join(sorted(t.allowed_in))})", title_justify="left")
        for col in ("field", "required", "values", "about"):
            table.add_column(col)
        for f in t.fields.values():
            kind = ("text@lang" if f.is_text else f"code ({f.scheme})" if f.scheme
                    else "link" if f.is_reference else "IRI" if f.is_iri
                    else "/".join(d.rsplit("#", 1)[-1] for d in f.datatypes))
            many = "one" if f.single else "many"
            table.add_row(f.name, "yes" if f.min_count else "", f"{kind}, {many}",
                          f.description + (" [personal]" if f.personal else ""))
        out.print(table)


# ---------------------------------------------------------------------- reading
@main.command()
@click.argument("path", default="/")
@click.option("--depth", type=int, default=None, help="Only so many levels.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@command
def tree(ctx: Context, path: str, depth: int | None, as_json: bool) -> None:
    """Show the content tree: paths, titles, state and access."""
    repo = ctx.repo
    for level, obj in repo.walk(ctx.user, path, depth):
        if as_json:
            echo_json({"path": obj.path, "type": obj.type_name, "title": obj.title("zh"),
                        "state": obj.state, "access": obj.access})
        else:
            out.print(f"{'  ' * level}{obj.path}  {obj.title('zh')} / {obj.title('en')}  "
                      f"[{obj.type_name}, {obj.state}, {obj.access}]", markup=False)


@main.command()
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable.")
@click.option("--rdf", "rdf_format", type=click.Choice(["ttl", "nt", "jsonld"]), default=None,
              help="Print the description graph instead.")
@command
def show(ctx: Context, ref: str, as_json: bool, rdf_format: str | None) -> None:
    """Show one object (PATH or IRI)."""
    repo = ctx.repo
    obj = repo.get(ctx.user, ref)
    if rdf_format:
        from pyoxigraph import DefaultGraph, Quad, RdfFormat, Store

        tmp = Store()
        tmp.extend(Quad(q.subject, q.predicate, q.object) for q in obj.description)
        fmt = {"ttl": RdfFormat.TURTLE, "nt": RdfFormat.N_TRIPLES, "jsonld": RdfFormat.JSON_LD}
        sys.stdout.write((tmp.dump(format=fmt[rdf_format], from_graph=DefaultGraph())
                          or b"").decode())
        return
    data = _summary(obj, repo.base)
    if as_json:
        echo_json(data, indent=2)
        return
    table = Table(show_header=False, box=None)
    for key in ("iri", "path", "type", "state", "access", "openingDate", "revision", "owner"):
        if data[key] is not None:
            table.add_row(key, str(data[key]))
    for name, values in data["fields"].items():
        for v in values:
            table.add_row(name + (f"@{v[1]}" if isinstance(v, list) else ""),
                          v[0] if isinstance(v, list) else str(v))
    if data["personalFields"]:
        table.add_row("personal", ", ".join(data["personalFields"]))
    out.print(table)


# ---------------------------------------------------------------------- writing
@main.command()
@click.argument("parent")
@click.argument("type_name", metavar="TYPE")
@click.option("--set", "sets", multiple=True, metavar="FIELD[@LANG]=VALUE", help="A field value.")
@click.option("--name", "slug", default=None, help="Path segment (default: from refcode or title).")
@click.option("--key", default=None,
              help="IRI key (default: random, never reused; giving one needs a site-wide role).")
@click.option("--access", "level", default=None,
              type=click.Choice(["open", "restricted", "personal", "embargoed"]),
              help="Access rule (default: records embargoed until their date + the period).")
@click.option("--until", default=None, help="Opening date for embargoed (YYYY-MM-DD).")
@click.option("--personal", multiple=True, metavar="FIELD", help="Mark a field personal.")
@click.option("--date", default=None, help=DATE_HELP)
@click.option("-m", "--message", default="", help="Revision message.")
@click.option("--json", "as_json", is_flag=True)
@command
def add(ctx: Context, parent: str, type_name: str, sets: tuple[str, ...], slug: str | None,
        key: str | None, level: str | None, until: str | None, personal: tuple[str, ...],
        date: str | None, message: str, as_json: bool) -> None:
    """Create an object of TYPE inside PARENT (a path, an IRI or /)."""
    obj = ctx.repo.create(ctx.user, parent, type_name, _assignments(sets, date), slug=slug,
                          key=key,
                          access=level, until=until, personal_fields=personal, message=message)
    if as_json:
        echo_json(_summary(obj, ctx.repo.base))
    else:
        out.print(f"created {obj.path}  {obj.iri}", markup=False)


@main.command()
@click.argument("ref")
@click.option("--set", "sets", multiple=True, metavar="FIELD[@LANG]=VALUE",
              help="Replace a field's values (for text: in that language).")
@click.option("--add", "adds", multiple=True, metavar="FIELD=VALUE", help="Add a value.")
@click.option("--unset", multiple=True, metavar="FIELD[@LANG]", help="Remove a field's values.")
@click.option("--revision", type=int, default=None,
              help="Only if the object is still at this revision (else: conflict, exit 6).")
@click.option("--date", default=None, help=DATE_HELP)
@click.option("-m", "--message", default="", help="Revision message.")
@command
def edit(ctx: Context, ref: str, sets: tuple[str, ...], adds: tuple[str, ...],
         unset: tuple[str, ...], revision: int | None, date: str | None, message: str) -> None:
    """Change an object's description."""
    obj = ctx.repo.edit(ctx.user, ref, set=_assignments(sets, date), add=_assignments(adds),
                        unset=list(unset), expected_revision=revision, message=message)
    out.print(f"{obj.path} is now at revision {obj.revision}", markup=False)


@main.command()
@click.argument("ref")
@click.option("--type", "type_name", default=None,
              help="A new object of this type inside REF (else: REF itself, edited).")
@click.option("--set", "sets", multiple=True, metavar="FIELD[@LANG]=VALUE",
              help="A value the write would give (refcode, category, retention, begin, date).")
@click.option("--date", default=None, help=DATE_HELP)
@command
def refcode(ctx: Context, ref: str, type_name: str | None, sets: tuple[str, ...],
            date: str | None) -> None:
    """The reference code (档号) an add or edit would store, checked; nothing is written."""
    code = ctx.repo.refcode_for(ctx.user, ref, _assignments(sets, date), new_type=type_name)
    out.print(code or "(none would be given: it needs the fonds code, category, retention "
              "and a year)", markup=False)


@main.command()
@click.argument("ref")
@click.argument("target")
@click.option("--name", "slug", default=None, help="New path segment.")
@click.option("--position", type=int, default=None, help="Place among the new siblings.")
@click.option("-m", "--message", default="")
@command
def move(ctx: Context, ref: str, target: str, slug: str | None, position: int | None,
         message: str) -> None:
    """Move an object into TARGET (its IRI stays the same)."""
    obj = ctx.repo.move(ctx.user, ref, target, slug=slug, position=position, message=message)
    out.print(f"moved to {obj.path}", markup=False)


@main.command()
@click.argument("ref")
@click.argument("place", type=click.IntRange(min=1))
@click.option("-m", "--message", default="")
@command
def reorder(ctx: Context, ref: str, place: int, message: str) -> None:
    """Put an object at PLACE among its siblings (1 is first; past the end, last)."""
    obj = ctx.repo.reorder(ctx.user, ref, place - 1, message=message)
    out.print(f"{obj.path} is now number {place_of(ctx.repo, obj)} in its folder",
              markup=False)


def place_of(repo: Repository, obj: ContentObject) -> int:
    """Where ``obj`` stands among its siblings, 1 first."""
    return repo.child_iris(obj.parent or repo.root_iri).index(obj.iri) + 1


@main.command()
@click.argument("ref")
@click.option("--recursive", is_flag=True, help="Also everything inside.")
@click.option("-m", "--message", default="")
@command
def delete(ctx: Context, ref: str, recursive: bool, message: str) -> None:
    """Delete an object (its IRI is kept as a tombstone and never reused)."""
    gone = ctx.repo.delete(ctx.user, ref, recursive=recursive, message=message)
    out.print(f"deleted {len(gone)} object(s)")


@main.command()
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True)
@command
def history(ctx: Context, ref: str, as_json: bool) -> None:
    """List an object's revisions."""
    revs = ctx.repo.history(ctx.user, ref)
    if as_json:
        echo_json([{"revision": r.number, "time": r.time, "author": r.author,
                     "action": r.action, "message": r.message} for r in revs])
        return
    table = Table("rev", "time", "author", "action", "message")
    for r in revs:
        table.add_row(str(r.number), r.time[:19], r.author, r.action, r.message)
    out.print(table)


@main.command()
@click.argument("ref")
@click.argument("rev_a", type=int)
@click.argument("rev_b", type=int, required=False)
@command
def diff(ctx: Context, ref: str, rev_a: int, rev_b: int | None) -> None:
    """Statements added (+) and removed (-) from REV_A to REV_B (default: current)."""
    lines = ctx.repo.diff(ctx.user, ref, rev_a, rev_b)
    for line in lines:
        out.print(str(line), style="green" if line.sign == "+" else "red", markup=False)
    if not lines:
        out.print("no differences")


@main.command()
@click.argument("ref")
@click.argument("revision", type=int)
@click.option("-m", "--message", default="")
@command
def revert(ctx: Context, ref: str, revision: int, message: str) -> None:
    """Make the description what it was at REVISION (a new revision; nothing is lost)."""
    obj = ctx.repo.revert(ctx.user, ref, revision, message=message)
    out.print(f"{obj.path} reverted to revision {revision}; now at {obj.revision}", markup=False)


@main.command()
@click.argument("iri")
@click.option("-m", "--message", default="")
@command
def undelete(ctx: Context, iri: str, message: str) -> None:
    """Bring back a deleted object (by IRI), private, with what was deleted inside it."""
    restored = ctx.repo.undelete(ctx.user, iri, message=message)
    out.print(f"restored {restored[0].path} ({len(restored)} object(s)), as private",
              markup=False)


@main.command()
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True)
@command
def review(ctx: Context, limit: int, as_json: bool) -> None:
    """The review queue: pending objects you may publish or reject, oldest first."""
    queue = ctx.repo.review_queue(ctx.user, limit=limit)
    if as_json:
        echo_json([{"path": p.obj.path, "iri": p.obj.iri, "since": p.since} for p in queue])
        return
    table = Table("since", "path", "title")
    for p in queue:
        table.add_row(p.since.replace("T", " "), p.obj.path, p.obj.title())
    out.print(table)


@main.command()
@click.argument("ref")
@click.argument("action", type=click.Choice(["submit", "retract", "publish", "reject",
                                             "withdraw"]))
@click.option("-m", "--comment", default="", help="Recorded in the history.")
@click.option("--recursive", is_flag=True, help="Also everything inside (where allowed).")
@command
def transition(ctx: Context, ref: str, action: str, comment: str, recursive: bool) -> None:
    """Move an object through the workflow: private → pending → published."""
    changed = ctx.repo.transition(ctx.user, ref, action, comment=comment, recursive=recursive)
    out.print(f"{action}: {len(changed)} object(s) now {changed[0].state}")


@main.command()
@click.argument("ref", required=False)
@click.option("--recursive", is_flag=True, help="Also everything inside.")
@click.option("--rebuild", is_flag=True, help="Rebuild the publication dataset from scratch.")
@click.option("--optimize", is_flag=True,
              help="Compact the publication store (readers keep working meanwhile).")
@click.option("-m", "--comment", default="")
@command
def publish(ctx: Context, ref: str | None, recursive: bool, rebuild: bool, optimize: bool,
            comment: str) -> None:
    """Publish an object (needs Reviewer), rebuild the whole publication dataset, or compact
    its store (a rebuild and a bulk ingest of many objects compact it themselves)."""
    if optimize:
        if ref or rebuild:
            raise click.UsageError("--optimize takes no PATH and no --rebuild")
        if "Manager" not in ctx.user.roles:
            raise LantaiError(f"{ctx.user_name} is not a Manager")
        seconds = ctx.repo.optimize_publication()
        out.print(f"publication store compacted in {seconds:.1f} s")
        return
    if rebuild:
        if ref:
            raise click.UsageError("--rebuild takes no PATH")
        if "Manager" not in ctx.user.roles:
            raise LantaiError(f"{ctx.user_name} is not a Manager")
        with progress_bar("Rebuilding publication dataset") as bar:
            task = bar.add_task("rebuild", total=None)
            n = ctx.repo.rebuild_publication(
                progress=lambda i, total: bar.update(task, completed=i, total=total))
        out.print(f"publication dataset rebuilt: {n} public object(s)")
        return
    if not ref:
        raise click.UsageError("give a PATH, or --rebuild")
    changed = ctx.repo.transition(ctx.user, ref, "publish", comment=comment, recursive=recursive)
    out.print(f"published {len(changed)} object(s)")


@main.command(name="access")
@click.argument("ref")
@click.argument("level", required=False,
                type=click.Choice(["open", "restricted", "personal", "embargoed"]))
@click.option("--until", default=None, help="Opening date for embargoed (YYYY-MM-DD).")
@click.option("--personal", multiple=True, metavar="FIELD", help="Mark a field personal.")
@click.option("--not-personal", multiple=True, metavar="FIELD", help="Unmark a field.")
@click.option("-m", "--message", default="")
@command
def access_cmd(ctx: Context, ref: str, level: str | None, until: str | None,
               personal: tuple[str, ...], not_personal: tuple[str, ...], message: str) -> None:
    """Set who may see an object: open, restricted, personal or embargoed [--until DATE]."""
    obj = ctx.repo.set_access(ctx.user, ref, level, until=until, personal=personal,
                              not_personal=not_personal, message=message)
    until_text = f" until {obj.opening_date}" if obj.opening_date else ""
    out.print(f"{obj.path}: {obj.access}{until_text}", markup=False)


@main.command()
@command
def release(ctx: Context) -> None:
    """Open every embargoed record whose opening date has come (run daily)."""
    opened = ctx.repo.release_due()
    out.print(f"{len(opened)} object(s) released")


@main.group()
def export() -> None:
    """Export descriptions."""


@export.command(name="rdf")
@click.option("--public", is_flag=True, help="The publication dataset (else the working store).")
@click.option("--format", "fmt", type=click.Choice(["ttl", "nq", "jsonld", "trig", "nt"]),
              default="ttl", show_default=True)
@click.option("--output", "-o", type=click.Path(path_type=Path), default=None,
              help="Write to FILE (default: standard output).")
@click.option("--under", default=None, metavar="PATH",
              help="Only PATH and what is inside it that you may view (the working store).")
@command
def export_rdf(ctx: Context, public: bool, fmt: str, output: Path | None,
               under: str | None) -> None:
    """Export RDF as Turtle, N-Quads, JSON-LD, TriG or N-Triples."""
    if output:
        output_path(output)  # a bad target is refused before the export is made
    if under is not None and public:
        raise click.UsageError("--under exports from the working store; leave out --public")
    if under is not None:
        from repo.exporters.rdf import subtree_rdf

        data = subtree_rdf(ctx.repo, ctx.user, under, fmt)
    else:
        data = ctx.repo.export_rdf(ctx.user, public=public, fmt=fmt)
    if output:
        write_atomically(output, data)
        err.print(f"wrote {len(data)} bytes to {output}", markup=False)
    else:
        sys.stdout.buffer.write(data)


# ---------------------------------------------------------------------- web
@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=None, type=click.IntRange(0, 64),
              help="Worker processes (default: the serve_workers setting; 0: one per core).")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256),
              help="Threads per worker for cheap pages (SPARQL and renders get theirs on top).")
@click.option("--quiet", is_flag=True, help="No request log (one JSON line per request on stderr).")
@key_file_option
@click.pass_obj
def serve(ctx: Context, host: str, port: int, workers: int | None, threads: int,
          quiet: bool) -> None:
    """Serve the public site, SPARQL, IIIF and the REST API on every core (granian).

    Public surfaces read only the publication dataset; `lantai` commands run while the server
    is up are seen by every worker on its next request (the publication generation is read
    once per request). Ctrl-C or SIGTERM stops every process.
    """
    from publisher.server import serve as serve_site
    from repo.config import read_settings

    try:
        read_settings(ctx.home)  # bad settings: one line, before any worker starts
        keys.require_site_key(ctx.home)  # a missing or wrong key: one line, before serving
        serve_site(ctx.home, host=host, port=port, workers=workers, threads=threads,
                   quiet=quiet, announce=lambda line: err.print(line, markup=False))
    except LantaiError as exc:
        fail(exc)
    # every worker and the engine have stopped, and this process holds no store: skip the
    # interpreter's teardown of every module the workers needed (4 s under load: a stop
    # that slow looks hung to a supervisor)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


# ---------------------------------------------------------------------- commands from other modules
# Importers, exporters, the catalog and IIIF define their click commands in their own modules
# (which import only repo.cli_support) and are registered here, one line each.
main.add_command(search)
main.add_command(reindex)
main.add_command(import_group)
export.add_command(ead_export)
main.add_command(ingest_group)
main.add_command(ocr_cmd)
main.add_command(users)
main.add_command(requests_group)
main.add_command(signing_group)
main.add_command(filing_group)
register_preservation(main)
main.add_command(engine_group)
engine_group.add_command(replica_command())  # lantai engine replica DEST (external/replica.py)
main.add_command(growth_group)


def run() -> None:
    """The console script: like ``main()``, but a usage error is one line too (exit 2)."""
    try:
        main(standalone_mode=False)
    except click.UsageError as exc:
        hint = f" (see: {exc.ctx.command_path} --help)" if exc.ctx else ""
        err.print(f"lantai: error: {exc.format_message()}{hint}", markup=False)
        sys.exit(2)
    except click.ClickException as exc:
        err.print(f"lantai: error: {exc.format_message()}", markup=False)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        err.print("lantai: error: aborted", markup=False)
        sys.exit(1)
