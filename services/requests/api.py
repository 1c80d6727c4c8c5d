"""Requests as JSON (``/api/requests``) for WeChat and other fronts. (Issue 12, part "api".)"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("requests_api", __name__, url_prefix="/api/requests")
