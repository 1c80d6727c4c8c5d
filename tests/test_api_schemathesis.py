"""The API against its own OpenAPI document (``/api/openapi.json``), with schemathesis.

Schemathesis generates requests for every operation of the document (valid and invalid
parameters and bodies) and checks each answer: never a server error, a status code the
document lists for that operation, the documented content type, headers and body schema.
A Manager's token is sent, so the writes really run (against a fresh site of its own).

Bounded: ``MAX_EXAMPLES`` per operation and no Hypothesis deadline; 90-140 s on two busy
cores, so marked slow. Hand-picked hostile input (bad IRIs, language tags with newlines, lone
surrogates) is in ``tests/test_api_input.py``, fast.
"""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from support import new_site

from publisher.app import create_app

MAX_EXAMPLES = 8  # per operation and mode (valid data, invalid data)
REAL_PATHS = ("xjtu/students/register-1957/page-1", "xjtu/students", "agents/zhang-san")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def api_site(tmp_path_factory):
    site = new_site(tmp_path_factory.mktemp("api-schemathesis") / "site")
    token = site.token
    site.close()  # the API opens the repository itself, per request
    app = create_app(site.home, TESTING=True, LANTAI_API_WAIT=10.0)
    return app, token


def run_operation(operation, mode: GenerationMode, token: str, statuses: Counter, *,
                  examples: int = MAX_EXAMPLES, **fixed) -> list[str]:
    """Up to ``examples`` generated requests; the failures as text (empty: all conform).
    ``fixed`` pins parameters (``path_parameters={"path": …}``) to reach real objects."""
    failures: list[str] = []
    checks = CHECKS + ([negative_data_rejection] if mode == GenerationMode.NEGATIVE else [])

    @given(case=operation.as_strategy(generation_mode=mode, **fixed))
    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    def check(case) -> None:
        response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"},
                                          checks=checks)
        statuses[response.status_code] += 1

    try:
        check()
    except (Exception, BaseExceptionGroup) as exc:  # keep it, go on with the others
        failures.append(f"{operation.label} ({mode}): {exc}"[:4000])
    return failures


@pytest.mark.slow  # 90-140 s on two busy cores (every operation by path, by IRI, at the root)
def test_the_api_conforms_to_its_openapi_document(api_site):
    app, token = api_site
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    failures: list[str] = []
    statuses: Counter = Counter()
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failures += run_operation(operation, mode, token, statuses)
    # the same operations on objects that exist (random paths are mostly 404s)
    for operation in operations:
        if "{path}" in operation.path and "{n}" not in operation.path:
            for path in REAL_PATHS:
                failures += run_operation(operation, GenerationMode.POSITIVE, token, statuses,
                                          examples=3, path_parameters={"path": path})
    assert not failures, "\n\n".join(failures)
    print("statuses:", dict(sorted(statuses.items())))
    server_errors = {code: n for code, n in statuses.items() if code >= 500 and code != 503}
    assert not server_errors, server_errors  # never a 5xx (503 is "busy, retry")
    assert sum(n for code, n in statuses.items() if code < 300) >= 50  # real work was done
    # valid requests were answered, not only refused
    assert statuses[200] >= 30 and statuses[404] > 0 and statuses[400] > 0
