"""(to be written: see services/filing/__init__.py)"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("filing_dashboard", __name__, url_prefix="/filing")
