"""The public request form, the e-mail code, the status page and the download (``/requests/``).
(Built in issue 12, part "public".)"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("requests_public", __name__, url_prefix="/requests")
