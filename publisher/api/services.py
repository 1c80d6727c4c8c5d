"""The API's services: one registered service per endpoint and method, as in plone.restapi.

A handler is declared with :func:`service` (``@service("GET", "/@history/<int(min=1):n>",
on=OBJECT, ...)``); :func:`rules` turns every declaration into one werkzeug rule per place it
applies to (the site root ``/api/``, an object by path ``/api/{path}``, an object by IRI
``/api/@iri?iri=``) with exactly that method. So no method reaches a handler it was not
declared for: werkzeug answers 405 with ``Allow`` for the others, HEAD runs the GET handler
and sends no body, OPTIONS answers with ``Allow``. The OpenAPI document
(:mod:`publisher.api.openapi`) and the query parameters each service accepts come from the
same declarations, so there is no second list to keep in step.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from werkzeug.routing import BaseConverter

ROOT, PATH, IRI, META = "root", "path", "iri", "meta"
# OWN: a service under /api that another package serves with its own blueprint (the record
# requests at /api/requests): declared here so the OpenAPI document lists it, but no rule
# is made for it by the API's routes
OWN = "own"
OBJECT = (PATH, IRI)
PREFIX = {ROOT: "/api", PATH: "/api/<slugpath:path>", IRI: "/api/@iri", META: "/api",
          OWN: "/api"}
SUFFIX_OP = {ROOT: "AtRoot", PATH: "ByPath", IRI: "ByIri", META: "", OWN: ""}
# first path segments that are other packages' (OWN services), never an object's path
RESERVED = ("openapi.json", "requests")


class SlugPath(BaseConverter):
    """An object's path below the root: slugs joined by ``/``, none starting with ``@`` (so
    the ``@endpoint`` after it is never taken for part of the path), of any depth. The first
    is never one of :data:`RESERVED` (the API's description, the record requests' JSON
    channel), so every URL has rules of one shape only and the methods it allows are the
    ones declared for that shape (a GET-only request endpoint answers POST with 405, not
    with "create a child of the object at requests/status")."""

    regex = (r"(?!(?:" + "|".join(re.escape(x) for x in RESERVED) + r")(?:/|$))"
             r"[a-z0-9][a-z0-9._-]{0,63}(?:/[a-z0-9][a-z0-9._-]{0,63})*")
    part_isolating = False


@dataclass(frozen=True)
class Doc:
    """What the OpenAPI document says of a service. ``params`` names parameters of
    ``openapi.PARAMETERS`` (query and header); the query ones are all the service accepts
    (another is a 400, so that a typo such as ``?sise=10`` is noticed)."""

    summary: str
    description: str
    tag: str
    ok: tuple[int, str, str | None]  # status, description, schema name
    ok_at_root: tuple[int, str, str | None] | None = None  # when the root answers otherwise
    errors: str = "read"  # "read", "write" or "meta"
    params: tuple[str, ...] = ()
    body: str | None = None
    body_required: bool = True
    public: bool = False  # no token needed
    security: str | None = None  # another scheme of SECURITY_SCHEMES instead of bearerAuth


@dataclass(frozen=True)
class Service:
    method: str
    suffix: str  # after the object: "" or "/@children" or "/@history/<int(min=1):n>"
    on: tuple[str, ...]
    name: str  # the OpenAPI operationId's stem
    handler: Callable = field(compare=False)
    doc: Doc = field(compare=False)

    def rule(self, where: str) -> str:
        if where == ROOT and not self.suffix:
            return "/api/"
        return PREFIX[where] + self.suffix

    def openapi_path(self, where: str) -> str:
        """``/{path}/@history/{n}``: the rule below ``/api``, converters as ``{name}``."""
        return re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-z_]+)>", r"{\1}",
                      self.rule(where).removeprefix("/api")) or "/"

    def operation_id(self, where: str) -> str:
        return self.name + SUFFIX_OP[where]


SERVICES: list[Service] = []
# what services declared by other packages add to the document's components
SCHEMAS: dict[str, dict] = {}
SECURITY_SCHEMES: dict[str, dict] = {}
ERROR_TEXTS: dict[int, str] = {}


def service(method: str, suffix: str, *, on: tuple[str, ...] | str, name: str,
            doc: Doc) -> Callable[[Callable], Callable]:
    """Declare ``handler(ref, **url_values)`` as the service for ``method`` at ``suffix``
    of each place in ``on``."""
    where = (on,) if isinstance(on, str) else tuple(on)

    def register(handler: Callable) -> Callable:
        svc = Service(method, suffix, where, name, handler, doc)
        if any((s.method, s.suffix) == (method, suffix) and set(s.on) & set(where)
               for s in SERVICES):
            raise ValueError(f"two services for {method} {suffix} on {where}")
        SERVICES.append(svc)
        return handler
    return register


def registered() -> Iterator[tuple[Service, str]]:
    """Every (service, place) pair: one werkzeug rule each."""
    for svc in SERVICES:
        for where in svc.on:
            yield svc, where
