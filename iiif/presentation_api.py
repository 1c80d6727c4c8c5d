"""(being built: see iiif/__init__.py for the URL layout)"""

from flask import Blueprint

bp = Blueprint("iiif_presentation_api", __name__)
