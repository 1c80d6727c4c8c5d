"""The public verification page (``/verify``). (Built in issue 12, part "verify".)"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("verify", __name__)
