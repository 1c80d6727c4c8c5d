"""The start page of the workspace (``/staff/``): what needs the user's attention.

A first version: who is signed in and the objects at the top of the tree they may view. The
dashboard part of issue 11 (recent changes, drafts, review queue, embargoes opening, failed
jobs) grows here.
"""

from __future__ import annotations

from flask import Blueprint, Response

from repo.repository import Repository
from repo.security import User
from staff import web

bp = Blueprint("dashboard", __name__)


@bp.get("/")
def home() -> Response:
    def run(repo: Repository, user: User) -> dict:
        return {"user": user, "top": repo.children(user, "/")}
    return web.render("staff/dashboard.html", **web.reading(run))
