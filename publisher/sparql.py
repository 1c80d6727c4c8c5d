"""(being built: see publisher/app.py for what this blueprint is for)"""

from flask import Blueprint

bp = Blueprint("sparql", __name__)
