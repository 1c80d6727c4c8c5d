"""The OpenAPI 3.1 description of the API, served at ``/api/openapi.json``.

Generated (not a static file) so that the content types, transitions, access levels and
search filters it lists are the profile's and the workflow's own, and the server URL is the
one the client reached. ``tests/test_api_schemathesis.py`` checks the API against it.
"""

from __future__ import annotations

from ontology.profile import load_profile
from repo.catalog.facets import FACETS
from repo.objects import ACCESS_LEVELS
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
    412: "If-Match does not name the object's current revision",
    413: "Request body too large",
    415: "The body is not JSON",
    422: "Invalid value (field, date, vocabulary code, language, type)",
    428: "If-Match is required by this server",
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


def body(schema: str, *, required: bool = True) -> dict:
    return {"required": required,
            "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def op(summary: str, description: str, tag: str, resp: dict, *, params: list | None = None,
       request: dict | None = None, op_id: str) -> dict:
    out = {"summary": summary, "description": description, "tags": [tag],
           "operationId": op_id, "responses": resp}
    if params:
        out["parameters"] = params
    if request:
        out["requestBody"] = request
    return out


def ref_param(name: str) -> dict:
    return {"$ref": f"#/components/parameters/{name}"}


def document(api_url: str, *, require_if_match: bool = False) -> dict:
    """The OpenAPI document, with ``api_url`` (``…/api``, from the site's base IRI) as the
    server; ``require_if_match`` marks If-Match required (the site's
    ``api_require_if_match``)."""
    profile = load_profile()
    types = sorted(profile.types)
    obj_get = responses({200: ("The object (JSON-LD)", "Object")}, (304, *READ_ERRORS))
    listing = responses({200: ("A page of objects", "Listing")}, (304, *READ_ERRORS))
    created = responses({201: ("Created; Location names it", "Object")}, WRITE_ERRORS)
    changed = responses({200: ("The object after the change", "Object")}, WRITE_ERRORS)
    deleted = responses({200: ("What was deleted (tombstones keep the IRIs)", "Deleted")},
                        WRITE_ERRORS)
    P = [ref_param("path")]
    page = [ref_param("page"), ref_param("size")]
    cond = [ref_param("IfNoneMatch")]
    match = [ref_param("IfMatch")]
    iri = [ref_param("iri")]

    def object_ops(prefix: str, params: list, where: str, ident: str) -> dict:
        return {
            "get": op("Read an object", f"The object {where} as JSON-LD: its description by "
                      "the profile's field names, repository facts and a page of children. "
                      "ETag is its revision.", "content", obj_get,
                      params=[*params, *page, *cond], op_id=f"get{ident}"),
            "post": op("Create a child", f"Create an object inside the object {where}.",
                       "content", created, params=params, request=body("Create"),
                       op_id=f"create{ident}"),
            "patch": op("Change fields", "Set (a null removes), add or unset field values. "
                        "If-Match with the ETag you read: a stale one gets 412.", "content",
                        changed, params=[*params, *match, *page], request=body("Patch"),
                        op_id=f"edit{ident}"),
            "delete": op("Delete", "Delete the object (with recursive=true, what is inside "
                         "too). Its IRI stays a tombstone and is never reused.", "content",
                         deleted, params=[*params, *match, ref_param("recursive"),
                                          ref_param("message")], op_id=f"delete{ident}"),
        }

    paths: dict[str, dict] = {
        "/openapi.json": {"get": {
            "summary": "This document", "tags": ["meta"], "security": [],
            "operationId": "openapi",
            "responses": {"200": {"description": "OpenAPI 3.1",
                                  "content": {JSON: {"schema": {"type": "object"}}}}}}},
        "/@context/{type}": {"get": {
            "summary": "JSON-LD context of a content type", "tags": ["meta"], "security": [],
            "operationId": "context",
            "parameters": [{"name": "type", "in": "path", "required": True,
                            "schema": {"type": "string", "enum": types}}],
            "responses": {"200": {"description": "A JSON-LD context",
                                  "content": {"application/ld+json": {
                                      "schema": {"type": "object"}}}},
                          "404": {"description": "No such type", **_problem_ref()}}}},
        "/": {
            "get": op("The site root", "Who you are and the top-level objects.", "content",
                      responses({200: ("The root", "Root")}, (304, *READ_ERRORS)),
                      params=[*page, *cond], op_id="getRoot"),
            "post": op("Create at the top level", "Create an object at the root of the tree "
                       "(fonds, collections, folders, agents).", "content", created,
                       request=body("Create"), op_id="createAtRoot"),
        },
        "/@types": {"get": op("Content types", "Types, where each may be placed, and their "
                              "fields.", "meta", responses({200: ("Types", "Types")},
                                                           READ_ERRORS), op_id="types")},
        "/@children": {"get": op("Top-level objects", "Paged.", "content", listing,
                                 params=[*page, *cond], op_id="rootChildren")},
        "/@search": {"get": op("Search the staff catalog", "Words, phrases, reference codes, "
                               "field:word; filtered to what the user may view.", "search",
                               responses({200: ("Results", "SearchResults")}, READ_ERRORS),
                               params=_search_params(), op_id="search")},
        "/{path}": object_ops("/{path}", P, "at that path", "ByPath"),
        "/{path}/@children": {"get": op("Children", "The children the user may view, in "
                                        "order, paged.", "content", listing,
                                        params=[*P, *page, *cond], op_id="children")},
        "/{path}/@workflow": {"get": op(
            "Workflow state", "State, the transitions this user may take, and the workflow "
            "history.", "workflow", responses({200: ("Workflow", "Workflow")}, READ_ERRORS),
            params=P, op_id="workflow")},
        "/{path}/@workflow/{action}": {"post": op(
            "Take a transition", "submit, retract, publish, reject or withdraw, with a "
            "comment for the history. Publishing makes the object public (the publication "
            "dataset) if it is open and its containers are published.", "workflow", changed,
            params=[*P, {"name": "action", "in": "path", "required": True,
                         "schema": {"type": "string", "enum": sorted(TRANSITIONS)}}, *match],
            request=body("Transition", required=False), op_id="transition")},
        "/{path}/@history": {"get": op(
            "Revisions", "Who changed what, when and why.", "history",
            responses({200: ("Revisions", "History")}, READ_ERRORS), params=P,
            op_id="history")},
        "/{path}/@history/{n}": {
            "get": op("One revision", "The revision and its difference from the previous "
                      "one.", "history", responses({200: ("Revision", "Revision")},
                                                   READ_ERRORS),
                      params=[*P, ref_param("n")], op_id="revision"),
            "post": op("Revert", "Make the description what it was at revision n (a new "
                       "revision; nothing is lost).", "history", changed,
                       params=[*P, ref_param("n"), *match],
                       request=body("Revert", required=False), op_id="revert")},
        "/{path}/@access": {
            "get": op("Access rule", "open, restricted, personal or embargoed (until), and "
                      "the fields marked personal.", "access",
                      responses({200: ("Access", "Access")}, READ_ERRORS), params=P,
                      op_id="access"),
            "post": op("Change the access rule", "Opening needs a Reviewer; restricting an "
                       "Editor.", "access", responses({200: ("Access", "Access")},
                                                      WRITE_ERRORS),
                       params=[*P, *match], request=body("AccessChange"),
                       op_id="setAccess")},
        "/{path}/@move": {"post": op(
            "Move or rename", "Into another container (its IRI stays; its path changes).",
            "content", changed, params=[*P, *match], request=body("Move"), op_id="move")},
        "/{path}/@search": {"get": op(
            "Search inside", "Like /@search, limited to what is inside this object.",
            "search", responses({200: ("Results", "SearchResults")}, READ_ERRORS),
            params=[*P, *_search_params()], op_id="searchWithin")},
        "/@iri": object_ops("/@iri", iri, "with that IRI", "ByIri"),
        "/@iri/@history": {"get": op(
            "Revisions by IRI", "Also of a deleted object (for Editors).", "history",
            responses({200: ("Revisions", "History")}, READ_ERRORS), params=iri,
            op_id="historyByIri")},
        "/@iri/@history/{n}": {"post": op(
            "Revert or restore by IRI", "Restores a deleted object as private.", "history",
            changed, params=[*iri, ref_param("n"), *match],
            request=body("Revert", required=False), op_id="revertByIri")},
    }
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
        "tags": [{"name": n} for n in ("content", "workflow", "history", "access", "search",
                                        "meta")],
        "paths": paths,
        "components": _components(types, require_if_match),
    }


def _search_params() -> list[dict]:
    out = [
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
                           "`lantai users token NAME`."}},
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
        },
    }
