"""Request handling in the staff workspace (``/staff/requests/``). (Issue 12, part "staff".)"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("requests", __name__, url_prefix="/requests", template_folder="templates")
