"""查档: graduates request their records online and receive certified copies (issue 12).

One module per job; data flows one way: the public form makes a request, staff handle it,
a certified copy is made from the repository's records and signed, the requester downloads it,
anyone verifies it.

- ``model``     what a request is: kinds, states, channels; the request, copy, event records
- ``store``     where requests live (SQLite under ``{home}/requests/``, personal data sealed)
- ``mail``      outgoing e-mail (codes, delivery links) through the configured SMTP server
- ``public``    the public request form, e-mail code, status page, download (``/requests/``)
- ``signing``   the site's signing key and certificate chain (a local CA, or an imported
                PKCS#12); PAdES signatures with pyHanko
- ``certify``   the certified copy: cover sheet, the selected pages at print resolution,
                QR code and short code on every page, PDF/A-2b, signed
- ``verify``    the public verification page (``/verify``): by code or by uploaded PDF
- ``staff``     handling in the staff workspace (``/staff/requests/``): queue, assignment,
                transfer, matching, selection, issue, refusal, post, revocation, statistics
- ``api``       the same operations as JSON (``/api/requests``), for WeChat and other fronts
- ``stats``     requests per month, type, channel, workroom; turnaround; CSV
- ``statistics`` the staff page of those figures (``/staff/requests/statistics``, charts, CSV)
- ``cli``       ``lantai requests …`` and ``lantai signing …``

Requests are personal data: nothing here writes to the description stores or the publication
dataset; the public publisher never imports this package (``/verify`` and ``/requests/`` are
this package's own blueprints on the same app).
"""

from __future__ import annotations

import importlib

from flask import Flask

# Loaded before the ``store`` function below is defined, so that the package's ``store``
# attribute stays the function: importing a submodule for the first time binds its name on
# the package, and without this the first ``import services.requests.store`` anywhere would
# replace ``services.requests.store(app)`` by the module.
from services.requests import store as _store_module

# blueprints on the public site (each module has a ``bp``; ``init_app`` if it needs one)
PUBLIC_PARTS = ("services.requests.public", "services.requests.verify", "services.requests.api")
# parts of the staff workspace (nested in the ``staff`` blueprint, behind its sign-in guard)
STAFF_PARTS = ("services.requests.staff", "services.requests.statistics")


def init_app(app: Flask) -> None:
    """Register the public parts on the site's app (the staff parts are registered by
    :func:`staff.init_app`, which lists them in its ``PARTS``)."""
    for name in PUBLIC_PARTS:
        module = importlib.import_module(name)
        if module.bp.name not in app.blueprints:
            app.register_blueprint(module.bp)
        if hasattr(module, "init_app"):
            module.init_app(app)


def store(app: Flask) -> _store_module.RequestStore:
    """The site's request store, opened once per app."""
    RequestStore = _store_module.RequestStore

    found = app.extensions.get("lantai.requests")
    if found is None:
        found = app.extensions["lantai.requests"] = RequestStore.open(app.config["LANTAI_HOME"])
    return found
