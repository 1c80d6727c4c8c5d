"""(being built) The IIIF routes of the public site."""

from flask import Blueprint

bp = Blueprint("iiif", __name__)
