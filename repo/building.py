"""Building objects: what a create, an edit or an import makes of the given values, checked.

A new object gets its IRI, path, position and the statements its place in the tree implies;
values become RDF terms of the profile's fields; reference codes are checked or numbered
(DA/T 13-2022, repo/refcodes.py); file identity is the media ingest's alone
(repo/file_identity.py). Nothing here writes: the writer commits what was built.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import secrets
from collections.abc import Iterable, Iterator
from functools import cache
from typing import Protocol

from pyoxigraph import Literal, NamedNode, Quad

from ontology.namespaces import RDF_TYPE, RICO, SCHEMA, XSD
from ontology.profile import ContentType
from ontology.terms import value
from repo import access as access_rules
from repo import file_identity, refcodes
from repo.errors import Conflict, Forbidden, Invalid, NotFound
from repo.objects import ACCESS_LEVELS, STRUCTURAL, ContentObject, lt_node, user_iri, xsd_int
from repo.ordering import keep_order
from repo.reads import IngestCache, Reads
from repo.security import STAFF, User, allowed, sees_everything
from repo.site import Site
from repo.values import Assignment, assignments_from_mapping, display, to_term
from repo.workflow import INITIAL_STATE

SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_KEY_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case

IDENTIFIER = NamedNode(RICO + "identifier")


class Paths(Protocol):
    """Paths taken (a set, or an ingest's paths not in the store yet)."""

    def __contains__(self, path: str) -> bool: ...

    def add(self, path: str) -> None: ...


@cache
def _predicate(path: str) -> NamedNode:
    """The predicate of a field (a few dozen: made once, not once per value)."""
    return NamedNode(path)


class Builder:
    """Builds and checks new states of objects (a part of :class:`repo.repository.Repository`).
    ``new_codes`` are the reference codes given out in the operation under way."""

    def __init__(self, site: Site, reads: Reads, cache: IngestCache) -> None:
        self.site = site
        self.reads = reads
        self.cache = cache
        self.new_codes: dict[str, str] = {}  # reference codes given out in this operation
        self.code_hints: dict[str, int] = {}  # next free number per code prefix
        self.files_ingest = False  # inside ingesting_files(): file identity may be set

    @contextlib.contextmanager
    def ingesting_files(self) -> Iterator[None]:
        """Writes made inside may set the fields that name stored bytes (digest, mime…):
        for the code that stores those bytes itself (media ingest, the demo loader) and
        nothing else (repo/file_identity.py)."""
        before, self.files_ingest = self.files_ingest, True
        try:
            yield
        finally:
            self.files_ingest = before

    def check_file_identity(self, user: User, before: ContentObject | None,
                             after: ContentObject) -> None:
        if self.files_ingest or after.deleted:
            return
        if before is not None and not before.deleted:
            file_identity.check_edit(before, after)
            return

        def may_publish(iri: str) -> bool:
            holder = self.reads.load(iri)
            return (holder is None or holder.deleted or self.reads.is_public(iri)
                    or allowed("open", holder.state, self.reads.roles_on(user, holder)))

        file_identity.check_new(after, lambda q: file_identity.holders_in(self.site.working, q),
                                may_publish)

    def _new_key(self) -> str:
        while True:
            key = "".join(secrets.choice(_KEY_ALPHABET) for _ in range(10))
            if not any(self.reads.load(self.site.iri_for(k, key)) for k in ("recordset", "record")):
                return key

    def _structural(self, obj: ContentObject, parent: ContentObject | None) -> set[Quad]:
        """Statements the tree implies: type, record set type, inclusion in the parent."""
        ctype, node, g = obj.type, obj.node, obj.node
        out = {Quad(node, RDF_TYPE, NamedNode(ctype.rdf_class), g)}
        if ctype.record_set_type:
            out.add(Quad(node, NamedNode(RICO + "hasRecordSetType"),
                         NamedNode(ctype.record_set_type), g))
        if parent is not None:
            pclass = parent.type.rdf_class
            record_like = ctype.rdf_class in (RICO + "RecordSet", RICO + "Record",
                                              RICO + "RecordResource")  # EAD otherlevel
            if record_like and pclass in (RICO + "RecordSet", RICO + "RecordResource"):
                out.add(Quad(node, NamedNode(RICO + "isDirectlyIncludedIn"), parent.node, g))
            elif ctype.name == "instantiation":
                out.add(Quad(node, NamedNode(RICO + "isOrWasDigitalInstantiationOf"),
                             parent.node, g))
            elif ctype.name == "section":
                out.add(Quad(node, NamedNode(SCHEMA + "isPartOf"), parent.node, g))
        if ctype.name in ("exhibit", "section", "instantiation") and obj.mgmt.get("position"):
            # their order among siblings, for the public pages (which see no management facts)
            # and, for instantiations, the order of the pages in a IIIF manifest
            out.add(Quad(node, NamedNode(SCHEMA + "position"), obj.mgmt["position"][0], g))
        return out

    def with_structure(self, obj: ContentObject, parent: ContentObject | None) -> None:
        keep = {q for q in obj.description if not (
            q.subject == obj.node and q.predicate.value in STRUCTURAL)}
        obj.description = keep | self._structural(obj, parent)

    def apply_assignments(self, obj: ContentObject, assignments: list[Assignment], *,
                           replace: bool, user: User | None = None) -> None:
        """Set (replace=True) or add values; for text fields only the given language.
        With ``user``, a link may name only an object the user may view."""
        ctype = obj.type
        terms: list[tuple] = []
        resolve = self.reads.resolve if user is None else (
            lambda ref: self._resolve_visible(user, ref))
        for a in assignments:
            f, term = to_term(ctype, a, base=self.site.base, resolve=resolve)
            terms.append((f, a.lang, term))
        if replace and terms:
            replaced = {(f.path, lang.lower() if lang else None) for f, lang, _ in terms}
            whole = {path for path, lang in replaced if lang is None}
            obj.description = {q for q in obj.description if not (
                q.subject == obj.node and (
                    q.predicate.value in whole
                    or (q.predicate.value, getattr(q.object, "language", None)) in replaced))}
        node = obj.node
        obj.description.update(Quad(node, _predicate(f.path), term, node) for f, _, term in terms)
        for f in {f for f, _, _ in terms if f.ordered}:  # repo/ordering.py
            keep_order(obj, f, [t for g, _, t in terms if g is f], replace=replace)

    def _resolve_visible(self, user: User, ref: str) -> str:
        """Like :meth:`resolve`, but an object ``user`` may not view is answered exactly as
        one that does not exist (no IRI, no type, no "exists": issue 10, item 12). Staff
        roles view everything; the check costs nothing for them."""
        iri = self.reads.resolve(ref)
        if iri == self.site.root_iri or set(user.roles) & STAFF:
            return iri
        obj = self.reads.load(iri)
        if obj is not None and not self.reads.can_view(user, obj):
            ref = ref.strip()
            raise NotFound(f"no object {ref}" if ref.startswith(("http://", "https://"))
                           else f"no object at {'/' + ref.strip('/')}")
        return iri

    def unset(self, obj: ContentObject, names: list[str]) -> None:
        ctype = obj.type
        for spec in names:
            name, _, lang = spec.partition("@")
            f = ctype.fields.get(name)
            if f is None:
                raise Invalid(f"{ctype.name} has no field {name!r}")
            before = len(obj.description)
            obj.description = {q for q in obj.description if not (
                q.subject == obj.node and q.predicate.value == f.path
                and (not lang or getattr(q.object, "language", None) == lang.lower()))}
            if len(obj.description) == before:
                raise Invalid(f"{obj.path}: {spec} has no value to remove")
            if f.ordered:
                keep_order(obj, f, [], replace=False)

    def field_value(self, obj: ContentObject, name: str) -> str | None:
        """A single-valued field's display value (a vocabulary code, a text, a date)."""
        f = obj.type.fields.get(name)
        if f is None:
            return None
        for q in obj.description:
            if q.predicate.value == f.path and q.subject == obj.node:
                return display(q.object, self.site.base)
        return None

    def _context_of(self, container_iri: str | None) -> dict:
        """What a new object inherits from its container: the fonds code, the category and
        retention of the nearest container that has one (cached during an ingest)."""
        if container_iri is None or container_iri == self.site.root_iri:
            return {"fonds": None, "category": None, "retention": None}
        if self.cache.objects is not None and container_iri in self.cache.contexts:
            return self.cache.contexts[container_iri]
        c = self.reads.load(container_iri)
        up = self._context_of(c.parent) if c is not None else self._context_of(None)
        ctx = dict(up)
        if c is not None:
            if c.type_name == "fonds":
                ctx["fonds"] = self.field_value(c, "refcode")
            ctx["category"] = self.field_value(c, "category") or up["category"]
            ctx["retention"] = self.field_value(c, "retention") or up["retention"]
        if self.cache.objects is not None:
            self.cache.contexts[container_iri] = ctx
        return ctx

    def _refcode_context(self, obj: ContentObject) -> dict:
        up = self._context_of(obj.parent)
        return {
            "fonds": up["fonds"],
            "category": self.field_value(obj, "category") or up["category"],
            "retention": self.field_value(obj, "retention") or up["retention"],
        }

    def _code_taken(self, code: str, iri: str) -> bool:
        """Is the reference code used by another object (stored, or earlier in this ingest)?"""
        owner = self.new_codes.get(code)
        if owner is not None and owner != iri:
            return True
        return any(value(q.subject) != iri for q in
                   self.site.working.quads_for_pattern(None, IDENTIFIER, Literal(code), None))

    def check_refcode(self, obj: ContentObject, parent: ContentObject | None) -> None:
        """Validate a given reference code, or number a new file or item."""
        if "refcode" not in obj.type.fields:
            return
        ctx = self._refcode_context(obj)
        code = self.field_value(obj, "refcode")
        if code is None:
            if obj.type_name not in ("file", "item") or not ctx["fonds"]:
                return
            year = (self.field_value(obj, "begin") or self.field_value(obj, "date") or "")[:4]
            if not (ctx["category"] and ctx["retention"] and re.fullmatch(r"\d{4}", year)):
                return
            parent_code = None
            if parent is not None and parent.type_name == "file":
                pc = self.field_value(parent, "refcode")
                parent_code = refcodes.parse(pc) if pc else None
            code = refcodes.next_code(parent_code=parent_code, fonds=ctx["fonds"],
                                      category=ctx["category"], year=year,
                                      retention=ctx["retention"],
                                      taken=lambda c: self._code_taken(c, obj.iri),
                                      in_file=parent_code is not None, hints=self.code_hints)
            obj.description.add(Quad(obj.node, IDENTIFIER, Literal(code), obj.node))
            self.new_codes[code] = obj.iri
            return
        rc = refcodes.check(code, type_name=obj.type_name, **ctx)
        normalised = str(rc)
        if normalised != code:
            obj.description.discard(Quad(obj.node, IDENTIFIER, Literal(code), obj.node))
            obj.description.add(Quad(obj.node, IDENTIFIER, Literal(normalised), obj.node))
        if self._code_taken(normalised, obj.iri):
            raise Conflict(f"reference code {normalised} is already used by another object")
        self.new_codes[normalised] = obj.iri

    def build_new(self, user: User, parent_ref: str, type_name: str,
                   fields: dict | list[Assignment] | None, *, slug: str | None,
                   key: str | None, access: str | None, until: str | None,
                   personal_fields: Iterable[str] = (), position: int | None = None,
                   taken_paths: Paths | None = None,
                   statements: Iterable[tuple] = ()) -> ContentObject:
        ctype = self._type(type_name)
        parent_iri = self.reads.resolve(parent_ref)
        parent = self.reads.load(parent_iri) if parent_iri != self.site.root_iri else None
        container = parent.type_name if parent else "root"
        if container not in ctype.allowed_in:
            raise Invalid(f"a {type_name} cannot be placed in a {container} "
                          f"(allowed in: {', '.join(sorted(ctype.allowed_in))})")
        self._check_may_add(user, parent, parent_ref)
        if key is not None and not sees_everything(user.roles):  # else 409 is an oracle
            raise Forbidden("giving a key needs a site-wide role that sees every object "
                            "(leave the key out and one is made)")
        if key is not None and not KEY.match(key):
            raise Invalid(f"key {key!r}: lowercase letters, digits, '-' or '_'")
        key = key or self._new_key()
        iri = self.site.iri_for(ctype.kind, key)
        if self.reads.load(iri) is not None:
            raise Conflict(f"{iri} exists or existed: IRIs are never reused")
        obj = ContentObject(iri)
        obj.mgmt["type"] = [Literal(type_name)]
        obj.mgmt["position"] = [xsd_int(position if position is not None
                                        else self.reads.next_position(parent_iri))]
        assignments = (assignments_from_mapping(fields) if isinstance(fields, dict)
                       else list(fields or []))
        # a new object: its description is what the tree implies, then the given values
        # (nothing to replace: no field has a structural path)
        obj.description = self._structural(obj, parent)
        self.apply_assignments(obj, assignments, replace=False, user=user)
        if statements:  # an importer's: the tree's own statements are the tree's to make
            obj.description.update(Quad(s, p, o, obj.node) for s, p, o in statements)
            self.with_structure(obj, parent)
        slug = slug or self._slug_for(obj, key)
        if not SLUG.match(slug):
            raise Invalid(f"name {slug!r}: lowercase letters, digits, '.', '-' or '_' (≤ 64)")
        path = (parent.path if parent else "") + "/" + slug
        if (taken_paths is not None and path in taken_paths) or \
                self.reads.at_path(path) is not None:
            raise Conflict(f"{path} exists already")
        if taken_paths is not None:
            taken_paths.add(path)
        obj.mgmt.update({
            "parent": [NamedNode(parent_iri)], "slug": [Literal(slug)], "path": [Literal(path)],
            "state": [lt_node(INITIAL_STATE)], "owner": [user_iri(user.name)],
        })
        self.set_access_facts(obj, access, until, default=True)
        for name in personal_fields:
            self.mark_personal(obj, name)
        return obj

    def _check_may_add(self, user: User, parent: ContentObject | None, parent_ref: str) -> None:
        """May ``user`` add to ``parent``? During an ingest the answer is kept per container
        (containers do not change while it runs; thousands of objects go into each)."""
        key = (user.name, parent.iri if parent else None)
        if self.cache.objects is not None and key in self.cache.may_add:
            return
        if parent is not None and (parent.deleted or not self.reads.can_view(user, parent)):
            raise NotFound(f"no object at {parent_ref}")
        if not allowed("add", parent.state if parent else "private",
                       self.reads.roles_on(user, parent)):
            raise Forbidden(f"{user.name} may not add to {parent.path if parent else '/'}")
        if self.cache.objects is not None:
            self.cache.may_add.add(key)

    def _slug_for(self, obj: ContentObject, key: str) -> str:
        code = self.field_value(obj, "refcode")
        if code:
            return re.sub(r"[^a-z0-9]+", "-", code.lower()).strip("-")[:64] or key
        for name in ("title", "name"):
            for text, lang in obj.fields().get(name, []):
                if lang == "en":
                    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48].strip("-")
                    if s:
                        return s
        return key

    def _type(self, name: str) -> ContentType:
        try:
            return self.site.profile.type(name)
        except KeyError as exc:
            raise Invalid(str(exc.args[0])) from None

    def set_access_facts(self, obj: ContentObject, level: str | None, until: str | None,
                          *, default: bool = False) -> None:
        today = self.site.clock().date()
        opening: dt.date | None = None
        obj.mgmt.pop("accessByDefault", None)
        if level is None and default:
            level, opening = access_rules.default_rule(obj, today, self.site.settings.embargo_years)
            if obj.type_name in access_rules.EMBARGO_BY_DEFAULT:
                obj.mgmt["accessByDefault"] = [Literal("true",
                                                       datatype=NamedNode(XSD + "boolean"))]
        if level not in ACCESS_LEVELS:
            raise Invalid(f"access {level!r}: one of {', '.join(ACCESS_LEVELS)}")
        if until is not None:
            if level != "embargoed":
                raise Invalid("--until goes with embargoed")
            try:
                opening = dt.date.fromisoformat(until)
            except ValueError:
                raise Invalid(f"--until {until!r} is not a date (YYYY-MM-DD)") from None
        elif level == "embargoed" and opening is None:
            formed = access_rules.latest_date(obj) or today
            opening = access_rules.add_years(formed, self.site.settings.embargo_years)
        obj.mgmt["access"] = [NamedNode(f"{self.site.base}/vocab/access/{level}")]
        if opening is not None and level == "embargoed":
            obj.mgmt["openingDate"] = [Literal(opening.isoformat(),
                                               datatype=NamedNode(XSD + "date"))]
        else:
            obj.mgmt.pop("openingDate", None)

    def mark_personal(self, obj: ContentObject, name: str) -> None:
        if name not in obj.type.fields:
            raise Invalid(f"{obj.type_name} has no field {name!r} to mark personal")
        values = obj.mgmt.setdefault("personalField", [])
        if Literal(name) not in values:
            values.append(Literal(name))
