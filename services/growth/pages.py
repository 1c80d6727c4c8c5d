"""(to be written: see services/growth/__init__.py)"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("growth", __name__, url_prefix="/growth")
