"""The history's hash chain and its signed checkpoints (issue 14, item 6).

Every test tampers with a real site the way someone with the disk would: the working store
opened with pyoxigraph directly, the checkpoint files edited; then ``lantai audit verify``
must exit non-zero naming the first broken changeset and how.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import gc
import itertools
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyoxigraph import DefaultGraph, Literal, NamedNode, Quad, Store
from support import SERIES

from ontology.namespaces import LT, RDFS
from preservation import audit, checkpoints
from repo.cli import main
from repo.config import read_settings, write_settings
from repo.repository import NewObject, Repository
from repo.revisions import changeset_iri

MGMT = DefaultGraph()


def verify(home: Path, *extra: str) -> tuple[int, dict]:
    result = CliRunner().invoke(main, ["--home", str(home), "audit", "verify", "--json",
                                       *extra])
    return result.exit_code, json.loads(result.stdout)


def chain(home: Path) -> list[audit.Record]:
    """The chain as walked, read from a closed site."""
    store = Store.read_only(str(home / "working"))
    order, _ = audit.walk(audit.read_chain(store, MGMT))
    del store
    gc.collect()
    return order


def tamper(home: Path, change: Callable[[Store], None]) -> None:
    """Change the working store of a closed site behind Lantai's back."""
    store = Store(str(home / "working"))
    change(store)
    store.flush()
    del store
    gc.collect()


def replace_fact(store: Store, cs_id: str, predicate: NamedNode, value: str) -> None:
    node = changeset_iri(cs_id)
    for q in list(store.quads_for_pattern(node, predicate, None, MGMT)):
        store.remove(q)
    store.add(Quad(node, predicate, Literal(value), MGMT))


def rechain(store: Store, records: list[audit.Record], start: int = 0) -> None:
    """What a forger who knows the scheme does: link ``records`` in the given order from
    ``start`` on, with every hash recomputed, and move the head."""
    previous = records[start - 1].hash if start else audit.GENESIS
    for rec in records[start:]:
        digest = rec.computed(previous)
        replace_fact(store, rec.id, audit.PREVIOUS, previous)
        replace_fact(store, rec.id, audit.HASH, digest)
        rec.previous, rec.hash, previous = previous, digest, digest
    last = records[-1]
    assert last.hash is not None
    audit.set_head(store, MGMT, audit.Head(last.id, last.hash, len(records)))


@pytest.fixture
def closed(site) -> Path:
    """The standard site after a few more changes (an account change, a bulk ingest), closed."""
    repo, admin = site.repo, site.admin
    repo.edit(admin, SERIES, set={"title": {"zh": "学生类（修订）", "en": "Students (revised)"}})
    repo.set_password(admin, "reader", "a new password 123")
    repo.ingest(admin, [NewObject(SERIES, "item", {"title": {"zh": f"批量{n}"}, "begin": "1990"},
                                  slug=f"bulk-{n}") for n in range(5)],
                message="bulk", batch_size=2)
    repo.edit(admin, SERIES, set={"title": {"zh": "学生类", "en": "Students"}})
    site.close()
    return site.home


# ---------------------------------------------------------------------- the chain
def test_every_changeset_carries_the_hash_of_the_one_before_in_commit_order(closed):
    order = chain(closed)
    store = Store.read_only(str(closed / "working"))
    records = audit.read_chain(store, MGMT)
    pointer = audit.read_pointer(store, MGMT)
    del store
    assert len(order) == len(records) > 20  # users, tree, edit, account, 3 batches + mark
    assert order[0].previous == audit.GENESIS
    for before, after in itertools.pairwise(order):
        assert after.previous == before.hash
        assert audit.canonical_time(before.time) <= audit.canonical_time(after.time)
    assert all(r.hash == r.computed() for r in order)
    actions = [r.action for r in order]
    assert actions.count("create") >= 3 + 8 and "ingest" in actions and "password" in actions
    # the ingest's completion mark comes after its batches, though its id is older
    mark = actions.index("ingest")
    assert actions[mark - 3:mark] == ["create", "create", "create"]
    assert order[mark].id < order[mark - 1].id
    assert pointer == audit.Head(order[-1].id, order[-1].hash, len(order))
    assert verify(closed) == (0, {"intact": True, "changesets": len(order),
                                  "head": order[-1].hash, "checkpoints": 0, "first": None,
                                  "findings": []})


def test_the_hash_is_of_the_canonical_serialisation():
    digest = audit.chain_hash("20261207T1-1-1", "urn:lantai:user:admin",
                              "2026-12-07T20:47:40.120000+00:00", "edit", "标题\u2028",
                              "A <a> <b> \"c\" .", audit.GENESIS)
    # Oxigraph gives the time back as 2026-12-07T20:47:40.12Z: the same hash
    assert digest == audit.chain_hash("20261207T1-1-1", "urn:lantai:user:admin",
                                      "2026-12-07T20:47:40.12Z", "edit", "标题\u2028",
                                      "A <a> <b> \"c\" .", audit.GENESIS)
    assert audit.canonical("i", "a", "", "x", "m", "p", "h") == \
        b'["lantai-changeset/1","i","a","","x","m","p","h"]'
    assert digest != audit.chain_hash("20261207T1-1-1", "urn:lantai:user:admin",
                                      "2026-12-07T20:47:40.12Z", "edit", "标题",
                                      "A <a> <b> \"c\" .", audit.GENESIS)


def test_a_failed_ingest_leaves_the_chain_as_it_was(site):
    repo, admin = site.repo, site.admin
    before = audit.read_head(repo.working, repo.mgmt)
    bad = [NewObject(SERIES, "item", {"title": {"zh": "回滚"}, "begin": "1990"}, slug=f"r-{n}")
           for n in range(3)] + [NewObject(SERIES, "item", {"title": {"zh": "重复"}},
                                           slug="r-0")]
    with pytest.raises(Exception):  # noqa: B017 - whichever error the repository raises
        repo.ingest(admin, bad, message="bad", batch_size=1)
    assert audit.read_head(repo.working, repo.mgmt) == before
    repo.edit(admin, SERIES, set={"title": {"zh": "学生类（后来）", "en": "Students"}})
    assert audit.read_head(repo.working, repo.mgmt).length == before.length + 1
    site.close()
    assert verify(site.home)[0] == 0


# ---------------------------------------------------------------------- tampering
def test_an_edited_changeset_is_named(closed):
    victim = chain(closed)[6]
    tamper(closed, lambda s: replace_fact(s, victim.id, NamedNode(RDFS + "comment"),
                                          "nothing happened here"))
    code, report = verify(closed)
    assert code == 5 and not report["intact"]
    assert report["first"]["changeset"] == victim.id
    assert report["first"]["kind"] == "edited" and report["first"]["position"] == 7
    result = CliRunner().invoke(main, ["--home", str(closed), "audit", "verify"])
    assert result.exit_code == 5
    assert f"changeset #7 {victim.id}: edited" in result.stderr


def test_a_removed_changeset_is_named(closed):
    victim = chain(closed)[6]

    def remove(store: Store) -> None:
        for q in list(store.quads_for_pattern(changeset_iri(victim.id), None, None, MGMT)):
            store.remove(q)

    tamper(closed, remove)
    code, report = verify(closed)
    assert code == 5
    first = report["first"]
    assert first["kind"] == "removed" and first["position"] == 7
    assert first["changeset"] == victim.id  # the objects it changed still name it


def test_the_last_changesets_removed_are_caught_by_the_head_and_a_checkpoint(closed):
    order = chain(closed)
    checkpoints.write(closed, read_settings(closed).base,
                      audit.Head(order[-1].id, order[-1].hash or "", len(order)))

    def cut(store: Store) -> None:
        for rec in order[-2:]:
            for q in list(store.quads_for_pattern(changeset_iri(rec.id), None, None, MGMT)):
                store.remove(q)
        audit.set_head(store, MGMT, audit.Head(order[-3].id, order[-3].hash or "",
                                               len(order) - 2))  # the forger moves it too

    tamper(closed, cut)
    code, report = verify(closed)
    assert code == 5
    assert report["first"]["kind"] == "removed"
    assert report["first"]["position"] == len(order) - 1


def test_reordered_changesets_are_named(closed):
    order = chain(closed)
    x, y = order[6], order[7]

    def swap(store: Store) -> None:  # y takes x's place in the chain and x y's
        replace_fact(store, y.id, audit.PREVIOUS, x.previous or "")
        replace_fact(store, y.id, audit.HASH, x.hash or "")
        replace_fact(store, x.id, audit.PREVIOUS, y.previous or "")
        replace_fact(store, x.id, audit.HASH, y.hash or "")

    tamper(closed, swap)
    code, report = verify(closed)
    assert code == 5
    assert report["first"] == {"position": 7, "changeset": y.id, "kind": "reordered",
                               "detail": report["first"]["detail"]}


def test_a_changeset_relinked_elsewhere_is_reordered(closed):
    order = chain(closed)
    moved = order[9]  # now claims to come right after #3
    tamper(closed, lambda s: replace_fact(s, moved.id, audit.PREVIOUS, order[2].hash or ""))
    code, report = verify(closed)
    assert code == 5
    kinds = {(f["changeset"], f["kind"]) for f in report["findings"]}
    assert (moved.id, "reordered") in kinds
    assert report["first"]["position"] == 4


def _fake(cs_id: str, time: str) -> list[Quad]:
    node = changeset_iri(cs_id)
    return [Quad(node, audit.RDF_TYPE, audit.CHANGESET, MGMT),
            Quad(node, NamedNode("http://www.w3.org/ns/prov#wasAttributedTo"),
                 NamedNode("urn:lantai:user:admin"), MGMT),
            Quad(node, NamedNode("http://www.w3.org/ns/prov#endedAtTime"),
                 Literal(time, datatype=NamedNode("http://www.w3.org/2001/XMLSchema#dateTime")),
                 MGMT),
            Quad(node, NamedNode(LT + "action"), Literal("delete"), MGMT),
            Quad(node, NamedNode(RDFS + "comment"), Literal("delete /xjtu"), MGMT)]


@pytest.mark.parametrize("how", ["unhashed", "branch", "relinked"])
def test_an_inserted_changeset_is_named(closed, how):
    order = chain(closed)
    x, y = order[6], order[7]
    fake = "20250301T090006500000-00000001-00000001"  # between x and y by its time

    def insert(store: Store) -> None:
        store.extend(_fake(fake, audit.canonical_time(y.time)))
        if how == "unhashed":
            return
        rec = audit.read_chain(store, MGMT)[fake]
        rec.previous = x.hash
        rec.hash = rec.computed()
        store.extend(audit.link_quads(fake, x.hash or "", rec.hash, MGMT))
        if how == "relinked":  # y now names the intruder; y's own hash is left alone
            replace_fact(store, y.id, audit.PREVIOUS, rec.hash)

    tamper(closed, insert)
    code, report = verify(closed)
    assert code == 5
    assert report["first"]["changeset"] == fake
    assert report["first"]["kind"] == "inserted"
    assert report["first"]["position"] == (8 if how != "unhashed" else
                                           report["first"]["position"])


# ---------------------------------------------------------------------- checkpoints
def test_checkpoints_every_n_changesets_catch_a_rewrite_of_the_whole_chain(closed):
    write_settings(closed, dataclasses.replace(read_settings(closed), audit_checkpoint_every=3))
    repo = Repository.open(closed)
    admin = repo.user("admin")
    for n in range(7):
        repo.edit(admin, SERIES, set={"title": {"zh": f"学生类{n}", "en": "Students"}})
    head = audit.read_head(repo.working, repo.mgmt)
    repo.close()
    gc.collect()
    made = checkpoints.files(closed)
    counts = [int(p.name[:12]) for p in made]
    assert len(counts) >= 2 and head.length - 3 < counts[-1] <= head.length
    assert all(b - a == 3 for a, b in itertools.pairwise(counts))
    document = json.loads(made[-1].read_text())
    assert document["statement"]["count"] == counts[-1]
    assert document["certificates"][0].startswith("-----BEGIN CERTIFICATE-----")
    assert verify(closed)[0] == 0

    # a forger swaps two old changesets and recomputes every hash after them: the chain
    # itself is consistent again, but no longer the one the checkpoints signed
    order = chain(closed)
    order[4], order[5] = order[5], order[4]
    tamper(closed, lambda s: rechain(s, order, 4))
    code, report = verify(closed)
    assert code == 5
    assert report["first"]["kind"] == "checkpoint"
    assert report["first"]["position"] == 1  # the first checkpoint covers #4 too


def _forge_other_key(path: Path) -> None:
    """Re-sign a checkpoint with a key and certificate the forger made."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Xi'an Jiaotong University")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
    document = json.loads(path.read_text())
    document["statement"]["head"] = "f" * 64
    data = json.dumps(document["statement"], ensure_ascii=True, sort_keys=True,
                      separators=(",", ":")).encode()
    document["signature"] = base64.b64encode(key.sign(data, ec.ECDSA(hashes.SHA256()))).decode()
    document["certificates"] = [cert.public_bytes(serialization.Encoding.PEM).decode()]
    path.write_text(json.dumps(document))


@pytest.mark.parametrize("how", ["edited", "other key", "removed"])
def test_a_forged_checkpoint_is_caught(closed, how):
    order = chain(closed)
    base = read_settings(closed).base
    for k in (3, 8, len(order)):
        rec = order[k - 1]
        checkpoints.write(closed, base, audit.Head(rec.id, rec.hash or "", k))
    assert verify(closed) == (0, verify(closed)[1]) and verify(closed)[1]["checkpoints"] == 3
    middle = checkpoints.files(closed)[1]
    if how == "edited":
        document = json.loads(middle.read_text())
        document["statement"]["head"] = order[1].hash
        middle.write_text(json.dumps(document))
    elif how == "other key":
        _forge_other_key(middle)
    else:
        middle.unlink()
    code, report = verify(closed)
    assert code == 5
    first = report["first"]
    assert first["kind"] == "checkpoint"
    if how == "removed":
        assert first["changeset"] == f"checkpoint {len(order):012d}.json"
        assert "removed or replaced" in first["detail"]
    else:
        assert first["changeset"] == "checkpoint 000000000008.json"
        assert ("does not verify" in first["detail"]) if how == "edited" else \
            ("not signed by the site's key" in first["detail"])
    # an auditor's own trust root: the site's signer, not whatever the site folder says
    assert verify(closed, "--trust", str(closed / "signing" / "trust.pem"))[0] == 5


def test_a_checkpoint_is_never_replaced(closed):
    order = chain(closed)
    base = read_settings(closed).base
    head = audit.Head(order[-1].id, order[-1].hash or "", len(order))
    first = checkpoints.write(closed, base, head)
    assert first is not None
    data = first.read_bytes()
    assert checkpoints.write(closed, base, head) is None
    assert first.read_bytes() == data
    result = CliRunner().invoke(main, ["--home", str(closed), "audit", "checkpoint"])
    assert result.exit_code == 0 and "exists already" in result.stdout


# ---------------------------------------------------------------------- old sites
def test_a_site_made_before_the_chain_is_chained_on_open_once(closed):
    def unchain(store: Store) -> None:  # what a site made before issue 14 holds
        for predicate in (audit.PREVIOUS, audit.HASH):
            for q in list(store.quads_for_pattern(None, predicate, None, MGMT)):
                store.remove(q)
        for q in list(store.quads_for_pattern(audit.HISTORY, None, None, MGMT)):
            store.remove(q)

    tamper(closed, unchain)
    store = Store.read_only(str(closed / "working"))
    records = audit.read_chain(store, MGMT)
    del store
    assert all(r.hash is None for r in records.values())
    Repository.open(closed).close()
    gc.collect()
    order = chain(closed)
    assert len(order) == len(records)
    assert [r.id for r in order] == [r.id for r in audit.commit_order(records.values())]
    made = checkpoints.files(closed)
    assert [p.name for p in made] == [f"{len(order):012d}.json"]
    assert verify(closed) == (0, verify(closed)[1])
    Repository.open(closed).close()  # a second open changes nothing
    gc.collect()
    assert [r.hash for r in chain(closed)] == [r.hash for r in order]


# ---------------------------------------------------------------------- speed
@pytest.mark.slow
def test_verify_reads_a_long_chain_quickly(tmp_path):
    from bench.audit import synthetic_chain

    store = Store(str(tmp_path / "working"))
    synthetic_chain(store, 20_000)
    began = time.perf_counter()
    report = audit.verify_chain(store, MGMT)
    took = time.perf_counter() - began
    assert report.intact and report.length == 20_000
    # 4.6-6 s on the shared machine at load 9; a lookup per changeset would take minutes
    assert took < 30, f"verify of 20,000 changesets took {took:.1f} s"


def test_a_backup_carries_the_checkpoints_and_its_history_verifies(closed, tmp_path):
    from preservation.backup import build_snapshot

    result = CliRunner().invoke(main, ["--home", str(closed), "audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    made = Path(result.stdout.strip())
    snapshot = tmp_path / "snapshot"
    build_snapshot(closed, snapshot)  # what `lantai backup` sends to restic
    kept = snapshot / "preservation" / "checkpoints" / made.name
    assert kept.read_bytes() == made.read_bytes()
    code, report = verify(snapshot)
    assert code == 0 and report["checkpoints"] == 1
    assert report["head"] == chain(closed)[-1].hash


def test_a_killed_ingest_is_taken_out_of_the_chain_on_the_next_open(site):
    from support import FONDS
    from test_crash import PATCH_BULK, crash_run, ingest_action

    site.repo.transition(site.admin, FONDS, "publish", recursive=True)
    before = audit.read_head(site.repo.working, site.repo.mgmt)
    # batch 1 written and chained (the head moved to it), the process dies in batch 2
    crash_run(site, PATCH_BULK.format(crash_on_call=3),
              ingest_action(30, "published", batch_size=10))
    assert audit.read_head(site.repo.working, site.repo.mgmt) == before
    site.repo.edit(site.admin, SERIES, set={"title": {"zh": "学生类（后来）", "en": "Students"}})
    assert audit.read_head(site.repo.working, site.repo.mgmt).length == before.length + 1
    site.close()
    assert verify(site.home)[0] == 0
