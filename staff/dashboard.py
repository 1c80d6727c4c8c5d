"""The start page of the workspace (``/staff/``): what needs the user's attention.

Recent changes the user may view, their drafts, the review queue, embargoes opening in the
next 90 days: each a bounded list from :mod:`repo.worklists` (``ROWS`` rows at most), so the
page costs the same on a site of ten objects or of a million. Failed derivative and OCR jobs
are the files part's own section (``staff/_failed_jobs.html``, included by the template).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, redirect
from werkzeug.wrappers import Response

from repo.repository import Repository
from repo.security import User
from staff import web

bp = Blueprint("dashboard", __name__)

ROWS = 20
EMBARGO_DAYS = 90

# Accounts that work elsewhere start there: each hook gets ``(reader, user)`` and answers the
# URL to send the user to, or None (a filing officer, who holds no role in the tree, lands
# on their unit's page: services.filing.officer).
START: list[Callable[[Repository, User], str | None]] = []


def engine_behind(repo: Repository) -> dict | None:
    """What the external engine has not been given yet (external.mirror.behind), or None."""
    if not repo.settings.publication_endpoint:
        return None
    from external.mirror import behind

    return behind(repo.home, repo.settings)


@bp.get("/")
def home() -> Response:
    if START:
        target = web.reading(lambda repo, user: next(
            (url for start in START if (url := start(repo, user))), None))
        if target:
            return redirect(target)

    def run(repo: Repository, user: User) -> dict:
        today = repo.clock().date()
        queue = repo.review_queue(user, limit=ROWS + 1)
        return {
            "user": user,
            "changes": repo.recent_changes(user, limit=ROWS),
            "drafts": repo.drafts(user, limit=ROWS),
            "queue": queue[:ROWS],
            "queue_more": len(queue) > ROWS,
            "openings": repo.embargoes_opening(user, today, EMBARGO_DAYS, limit=ROWS),
            "days": EMBARGO_DAYS,
            # the external engine behind the publication (issue 15): Managers are told
            "engine": engine_behind(repo) if "Manager" in user.roles else None,
        }
    return web.render("staff/dashboard.html", **web.reading(run))
