"""The OpenAPI 3.1 description of the API, served at ``/api/openapi.json``.

Made from the registered services (:mod:`publisher.api.services`), the same declarations
the URL rules are made from, so a route and its description cannot drift apart; generated
(not a static file) so that the content types, transitions, access levels and
search filters it lists are the profile's and the workflow's own, and the server URL is the
one the client reached. ``tests/test_api_schemathesis.py`` checks the API against it.
"""

from __future__ import annotations

import re
from typing import Any

from ontology.profile import load_profile
from publisher.api.services import (
    IRI,
    PATH,
    ROOT,
    SCHEMAS,
    SECURITY_SCHEMES,
    Service,
)
from repo.catalog.facets import FACETS, FILTER_ALIASES
from repo.objects import ACCESS_LEVELS
from repo.security import USERNAME
from repo.workflow import TRANSITIONS

JSON = "application/json"
PATH_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}(/[a-z0-9][a-z0-9._-]{0,63}){0,31}$"

ERRORS = {
    304: "Not modified (If-None-Match named the current ETag)",
    400: "Malformed request (bad JSON, wrong parameter)",
    401: "No token, or an unknown one",
    403: "The user's roles do not allow this",
    404: "No such object, or the user may not view it, or no such endpoint",
    405: "Method not allowed here",
    409: "Conflict (taken path or reference code, linked object, workflow state)",
    410: "Gone (withdrawn, expired or used up)",
    412: "If-Match does not name the object's current revision",
    413: "Request body too large",
    415: "The body is not JSON",
    422: "Invalid value (field, date, vocabulary code, language, type)",
    428: "If-Match is required by this server",
    429: "Too many attempts from this client (or for this request); retry later",
    503: "Another process holds the repository for writing; retry after Retry-After seconds",
}


def _problem_ref() -> dict:
    return {"content": {JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def responses(ok: dict[int, tuple[str, str | None]], errors: tuple[int, ...]) -> dict:
    """``ok``: status → (description, schema name or None)."""
    out: dict[str, dict] = {}
    for status, (text, schema) in ok.items():
        r: dict = {"description": text}
        if schema:
            r["content"] = {JSON: {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
        if status in (200, 201):
            r["headers"] = {"ETag": {"$ref": "#/components/headers/ETag"}}
        if status == 201:
            r["headers"]["Location"] = {"description": "The new object's API URL",
                                        "schema": {"type": "string"}}
        out[str(status)] = r
    for status in errors:
        if status == 304:
            out["304"] = {"description": ERRORS[304],
                          "headers": {"ETag": {"$ref": "#/components/headers/ETag"}}}
            continue
        r = {"description": ERRORS[status], **_problem_ref()}
        if status == 503:
            r["headers"] = {"Retry-After": {"schema": {"type": "string"},
                                            "description": "Seconds"}}
        if status == 412:
            r["headers"] = {"ETag": {"$ref": "#/components/headers/ETag"}}
        out[str(status)] = r
    return out


READ_ERRORS = (400, 401, 403, 404, 405, 422)
WRITE_ERRORS = (400, 401, 403, 404, 405, 409, 412, 413, 415, 422, 428, 503)
# the record requests' JSON channel (services/requests/api.py): no repository token, its own
# throttles (429), a mail server that may be down (503)
REQUEST_ERRORS = (400, 401, 404, 405, 409, 410, 413, 415, 422, 429, 503)
ERROR_SETS = {"read": READ_ERRORS, "write": WRITE_ERRORS, "meta": (404, 405),
              "requests": REQUEST_ERRORS}


def body(schema: str, *, required: bool = True) -> dict:
    return {"required": required,
            "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def ref_param(name: str) -> dict:
    return {"$ref": f"#/components/parameters/{name}"}


def query_names(svc: Service) -> frozenset[str]:
    """The query parameters a service takes: the ones its document lists."""
    names: set[str] = set()
    for p in svc.doc.params:
        if p == "search":
            names |= {q["name"] for q in _search_params()}
        elif p in ("page", "size", "recursive", "message"):
            names.add(p)
    return frozenset(names)


def _path_params(svc: Service, where: str, types: list[str]) -> list[dict]:
    """The parameters of the URL itself: the object (path or IRI) and the rule's own."""
    out = [ref_param("path")] if where == PATH else [ref_param("iri")] if where == IRI else []
    for name in re.findall(r"\{([a-z_]+)\}", svc.openapi_path(where)):
        if name == "path":
            continue
        if name == "action":
            out.append({"name": "action", "in": "path", "required": True,
                        "schema": {"type": "string", "enum": sorted(TRANSITIONS)}})
        elif name == "type_name":
            out.append({"name": "type_name", "in": "path", "required": True,
                        "schema": {"type": "string", "enum": types}})
        else:
            out.append(ref_param(name))
    return out


def operation(svc: Service, where: str, types: list[str]) -> dict:
    d = svc.doc
    status, text, schema = d.ok_at_root if where == ROOT and d.ok_at_root else d.ok
    ok = {status: (text, schema)}
    errors = ERROR_SETS[d.errors]
    if "IfNoneMatch" in d.params:
        errors = (304, *errors)
    resp = responses(ok, errors)
    if schema is None:
        ctype = "application/ld+json" if svc.name == "context" else JSON
        resp[str(status)]["content"] = {ctype: {"schema": {"type": "object"}}}
        resp[str(status)].pop("headers", None)
    params = _path_params(svc, where, types)
    for p in d.params:
        params += _search_params() if p == "search" else [ref_param(p)]
    out = {"summary": d.summary, "description": d.description, "tags": [d.tag],
           "operationId": svc.operation_id(where), "responses": resp}
    if d.security:
        out["security"] = [{d.security: []}]
    elif d.public:
        out["security"] = []
    if params:
        out["parameters"] = params
    if d.body:
        out["requestBody"] = body(d.body, required=d.body_required)
    return out


def document(api_url: str, services: list[Service], *, require_if_match: bool = False) -> dict:
    """The OpenAPI document of the registered ``services``, with ``api_url`` (``…/api``, from
    the site's base IRI) as the server; ``require_if_match`` marks If-Match required (the
    site's ``api_require_if_match``)."""
    types = sorted(load_profile().types)
    paths: dict[str, dict] = {}
    for svc in services:
        for where in svc.on:
            paths.setdefault(svc.openapi_path(where), {})[svc.method.lower()] = \
                operation(svc, where, types)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Lantai repository API", "version": "1.0",
                 "description": "The archive's repository for staff and programs, in the style "
                 "of plone.restapi: content by path, JSON-LD bodies, workflow, history, "
                 "access, search. Token authentication (`lantai users token NAME`). Writes "
                 "honour If-Match (a stale ETag gets 412; without it 428 where the site sets "
                 "api_require_if_match). See docs/api.md."},
        "servers": [{"url": api_url}],
        "security": [{"bearerAuth": []}],
        "tags": [{"name": n} for n in dict.fromkeys(
            ("content", "workflow", "history", "access", "search", "meta", "users",
             *(svc.doc.tag for svc in services)))],
        "paths": dict(sorted(paths.items())),
        "components": _components(types, require_if_match),
    }


def _search_params() -> list[dict]:
    out: list[dict[str, Any]] = [
        {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 1000},
         "description": "Words (Chinese found inside longer text), \"phrases\", reference "
         "codes, a OR b, -word, prefix*, title: agent: place: subject: text: refcode: ocr:"},
        {"name": "sort", "in": "query", "schema": {
            "type": "string", "enum": ["relevance", "date", "-date", "refcode", "-refcode"]}},
        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                   "maximum": 10000}},
        {"name": "size", "in": "query", "schema": {"type": "integer", "minimum": 0,
                                                   "maximum": 500}},
    ]
    for name in FACETS:
        out.append({"name": name, "in": "query", "required": False,
                    "schema": {"type": "string", "maxLength": 64},
                    "description": f"Filter by {name} (facet values; 1950-1959 for years)"})
    for name, facet in FILTER_ALIASES.items():
        out.append({"name": name, "in": "query", "required": False,
                    "schema": {"type": "string", "maxLength": 64},
                    "description": "Only what is inside this object (a path or an IRI)"
                    if facet == "within" else f"The same as {facet}"})
    return out


def _components(types: list[str], require_if_match: bool = False) -> dict:
    text_or_list = {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"},
                              {"type": "array", "items": {"type": ["string", "number"]}},
                              {"type": "object", "additionalProperties": {
                                  "type": ["string", "array", "null"]}}]}
    summary = {"type": "object", "required": ["@id", "path", "contentType", "state"],
               "properties": {"@id": {"type": "string"}, "api": {"type": "string"},
                              "path": {"type": "string"}, "contentType": {"type": "string"},
                              "title": {"type": "object"}, "state": {"type": "string"},
                              "access": {"type": "string"}, "revision": {"type": "integer"}}}
    batching = {"type": "object", "required": ["@id", "first", "last", "page", "size"],
                "properties": {k: {"type": "string"} for k in ("@id", "first", "last", "prev",
                                                                "next")} |
                {"page": {"type": "integer"}, "size": {"type": "integer"},
                 "pages": {"type": "integer"}}}
    return {
        "securitySchemes": {"bearerAuth": {
            "type": "http", "scheme": "bearer",
            "description": "An API token: `lantai users add NAME --token` or "
                           "`lantai users token NAME`."}, **SECURITY_SCHEMES},
        "headers": {"ETag": {"description": "The object's revision: \"rev-7\" (with a "
                                            "suffix when the body shows children)",
                             "schema": {"type": "string"}}},
        "parameters": {
            "path": {"name": "path", "in": "path", "required": True,
                     "description": "The object's path in the tree, e.g. xjtu/students "
                                    "(slashes included)",
                     "schema": {"type": "string", "pattern": PATH_PATTERN},
                     "example": "xjtu/students"},
            "iri": {"name": "iri", "in": "query", "required": True,
                    "schema": {"type": "string", "format": "uri", "maxLength": 2000},
                    "description": "The object's IRI, {base}/id/{kind}/{key}"},
            "name": {"name": "name", "in": "path", "required": True,
                     "description": "A user name",
                     "schema": {"type": "string", "pattern": USERNAME.pattern}},
            "n": {"name": "n", "in": "path", "required": True,
                  "schema": {"type": "integer", "minimum": 1, "maximum": 100000}},
            "page": {"name": "page", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 1000000}},
            "size": {"name": "size", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
            "recursive": {"name": "recursive", "in": "query",
                          "schema": {"type": "boolean"}},
            "message": {"name": "message", "in": "query",
                        "schema": {"type": "string", "maxLength": 1000}},
            "IfMatch": {"name": "If-Match", "in": "header", "required": require_if_match,
                        "schema": {"type": "string"},
                        "description": "The ETag you read; a stale one gets 412"
                                       + ("; required on this server (428 without it)"
                                          if require_if_match else "")},
            "IfNoneMatch": {"name": "If-None-Match", "in": "header", "required": False,
                            "schema": {"type": "string"}},
        },
        "schemas": {
            "Problem": {"type": "object", "required": ["error", "message"],
                        "properties": {"error": {"type": "string"},
                                       "message": {"type": "string"},
                                       "status": {"type": "integer"}}},
            "Fields": {"type": "object", "maxProperties": 64,
                       "description": "Field name → value. Text: {\"zh\": …, \"en\": …} or "
                       "\"title@en\": …; dates YYYY[-MM[-DD]]; vocabulary codes or IRIs; "
                       "links as paths or IRIs; several values as a list.",
                       "additionalProperties": text_or_list,
                       "example": {"title": {"zh": "新生名册", "en": "Register of freshmen"},
                                   "begin": "1957-09"}},
            "Create": {"type": "object", "required": ["type"], "properties": {
                "type": {"type": "string", "enum": types},
                "fields": {"$ref": "#/components/schemas/Fields"},
                "slug": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9._-]{0,63}$"},
                "key": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_-]{0,63}$"},
                "access": {"type": "string", "enum": list(ACCESS_LEVELS)},
                "until": {"type": "string", "format": "date"},
                "personal": {"type": "array", "items": {"type": "string"}, "maxItems": 64},
                "message": {"type": "string", "maxLength": 1000}}},
            "Patch": {"type": "object", "properties": {
                "fields": {"type": "object", "maxProperties": 64,
                           "additionalProperties": {"oneOf": [text_or_list, {"type": "null"}]}},
                "add": {"$ref": "#/components/schemas/Fields"},
                "unset": {"type": "array", "items": {"type": "string"}, "maxItems": 64},
                "message": {"type": "string", "maxLength": 1000}}},
            "Transition": {"type": "object", "properties": {
                "comment": {"type": "string", "maxLength": 1000},
                "recursive": {"type": "boolean"}}},
            "Revert": {"type": "object", "properties": {
                "message": {"type": "string", "maxLength": 1000}}},
            "AccessChange": {"type": "object", "properties": {
                "level": {"type": "string", "enum": list(ACCESS_LEVELS)},
                "until": {"type": "string", "format": "date"},
                "personal": {"type": "array", "items": {"type": "string"}, "maxItems": 64},
                "notPersonal": {"type": "array", "items": {"type": "string"}, "maxItems": 64},
                "message": {"type": "string", "maxLength": 1000}}},
            "Move": {"type": "object", "required": ["target"], "properties": {
                "target": {"type": "string", "maxLength": 2000,
                           "description": "The new container: a path, an IRI or /"},
                "slug": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9._-]{0,63}$"},
                "position": {"type": "integer", "minimum": 0},
                "message": {"type": "string", "maxLength": 1000}}},
            "Revoke": {"type": "object", "properties": {
                "role": {"type": "string", "enum": ["Reader", "Contributor", "Editor",
                                                    "Reviewer", "Manager"]},
                "on": {"type": "string", "maxLength": 2000,
                       "description": "For a local role: the container's path or IRI"},
                "token": {"type": "string", "maxLength": 200,
                          "description": "A token id (GET @users/{name}), or all"},
                "message": {"type": "string", "maxLength": 1000}}},
            "Message": {"type": "object", "properties": {
                "message": {"type": "string", "maxLength": 1000}}},
            "Account": {"type": "object", "required": ["name", "status", "roles", "tokens"],
                        "properties": {"@id": {"type": "string"}, "name": {"type": "string"},
                                       "fullname": {"type": "string"},
                                       "status": {"type": "string", "enum": [
                                           "active", "disabled", "removed"]},
                                       "roles": {"type": "array", "items": {"type": "string"}},
                                       "tokens": {"type": "array",
                                                  "items": {"type": "string"}}}},
            "Accounts": {"type": "object", "required": ["items"], "properties": {
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/Account"}}}},
            "AccountHistory": {"type": "object", "required": ["items"], "properties": {
                "items": {"type": "array", "items": {"type": "object"}}}},
            "Summary": summary,
            "Batching": batching,
            "Object": {"type": "object",
                       "required": ["@context", "@id", "@type", "path", "contentType", "state",
                                    "access", "revision", "items", "items_total"],
                       "properties": {
                           "@context": {"type": "string"}, "@id": {"type": "string"},
                           "@type": {"type": "string"}, "api": {"type": "string"},
                           "path": {"type": "string"}, "contentType": {"type": "string"},
                           "state": {"type": "string",
                                     "enum": ["private", "pending", "published"]},
                           "access": {"type": "string", "enum": list(ACCESS_LEVELS)},
                           "openingDate": {"type": ["string", "null"]},
                           "personalFields": {"type": "array", "items": {"type": "string"}},
                           "revision": {"type": "integer", "minimum": 0},
                           "created": {"type": ["string", "null"]},
                           "modified": {"type": ["string", "null"]},
                           "owner": {"type": ["string", "null"]},
                           "parent": {"type": ["string", "null"]},
                           "public": {"type": "boolean"},
                           "items": {"type": "array",
                                     "items": {"$ref": "#/components/schemas/Summary"}},
                           "items_total": {"type": "integer"},
                           "batching": {"$ref": "#/components/schemas/Batching"},
                           "changed": {"type": "array",
                                       "items": {"$ref": "#/components/schemas/Summary"}}},
                       "additionalProperties": True},
            "Root": {"type": "object", "required": ["@id", "user", "items", "items_total"],
                     "properties": {"@id": {"type": "string"}, "user": {"type": "string"},
                                    "roles": {"type": "array", "items": {"type": "string"}},
                                    "items": {"type": "array", "items": {
                                        "$ref": "#/components/schemas/Summary"}},
                                    "items_total": {"type": "integer"}}},
            "Listing": {"type": "object", "required": ["@id", "items", "items_total"],
                        "properties": {"@id": {"type": "string"},
                                       "items": {"type": "array", "items": {
                                           "$ref": "#/components/schemas/Summary"}},
                                       "items_total": {"type": "integer"},
                                       "batching": {"$ref": "#/components/schemas/Batching"}}},
            "Deleted": {"type": "object", "required": ["deleted", "count"],
                        "properties": {"deleted": {"type": "array",
                                                   "items": {"type": "string"}},
                                       "count": {"type": "integer"}}},
            "Workflow": {"type": "object", "required": ["state", "transitions", "history"],
                         "properties": {"state": {"type": "string"},
                                        "transitions": {"type": "array", "items": {
                                            "type": "object", "required": ["name", "target"],
                                            "properties": {"name": {"type": "string"},
                                                           "target": {"type": "string"}}}},
                                        "history": {"type": "array"}}},
            "History": {"type": "object", "required": ["items", "revision"], "properties": {
                "revision": {"type": "integer"},
                "items": {"type": "array", "items": {
                    "type": "object",
                    "required": ["revision", "time", "author", "action", "message"],
                    "properties": {"revision": {"type": "integer"},
                                   "time": {"type": "string"}, "author": {"type": "string"},
                                   "action": {"type": "string"},
                                   "message": {"type": "string"}}}}}},
            "Revision": {"type": "object", "required": ["revision", "diff"], "properties": {
                "revision": {"type": "integer"}, "author": {"type": "string"},
                "action": {"type": "string"}, "message": {"type": "string"},
                "diff": {"type": "array", "items": {
                    "type": "object", "required": ["op", "field", "value"],
                    "properties": {"op": {"type": "string", "enum": ["add", "remove"]},
                                   "field": {"type": "string"},
                                   "value": {"type": "string"}}}}}},
            "Access": {"type": "object", "required": ["access", "personalFields"],
                       "properties": {"access": {"type": "string",
                                                 "enum": list(ACCESS_LEVELS)},
                                      "until": {"type": ["string", "null"]},
                                      "personalFields": {"type": "array",
                                                         "items": {"type": "string"}},
                                      "byDefault": {"type": "boolean"}}},
            "Types": {"type": "object", "required": ["items"],
                      "properties": {"items": {"type": "array"}}},
            "SearchResults": {"type": "object", "required": ["items", "items_total"],
                              "properties": {"query": {"type": "string"},
                                             "items": {"type": "array"},
                                             "items_total": {"type": "integer"},
                                             "complete": {"type": "boolean"},
                                             "facets": {"type": "object"}}},
            **SCHEMAS,
        },
    }
