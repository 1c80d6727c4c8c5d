"""Departments file into the archive on a yearly loop (issue 13): 通知归档 → 跟踪进度 → 整改反馈.

One module per job; data flows one way: the archive plans, units submit into a receiving
area, the archivist accepts items into the tree (through the Repository) or returns them,
the rates and the report are read from what happened.

- ``model``      what the loop is made of: units, topics, plans, tasks, submissions, items,
                 steps, notices; the rates' definitions
- ``store``      where it lives (SQLite under ``{home}/filing/``, the receiving area)
- ``units``      filing units (corporate bodies of the repository) and their officers
                 (the FilingOfficer role, held on the unit's corporate body)
- ``plans``      a year's plan from a template or last year's, published with a notice
- ``intake``     one submission from a form, a spreadsheet (XLSX, CSV) or a BagIt bag: read,
                 checked (the category's required metadata, the files' real types), all or
                 nothing
- ``review``     accept an item into the tree (档号, provenance, accession event) or return
                 it with a rectification note; resubmission
- ``rates``      expected, submitted, returned, accepted; filing and quality rates
- ``report``     the year-end report (XLSX, PDF) with the rectification list
- ``officer``    the officer's pages (``/staff/filing/unit/…``): tasks, notices, submit, fix
- ``receiving``  the archivist's pages (``/staff/filing/receiving``): review submissions
- ``planning``   the plan's pages (``/staff/filing/plans``): units, topics, tasks, publish
- ``dashboard``  progress and rates with charts (``/staff/filing/``), the report's downloads
- ``cli``        ``lantai filing …``
- ``demo``       the demo's units and 2026 plan in every state of the loop

Nothing here writes to the description stores but through the Repository, and nothing of
a submission reaches a public surface before it is accepted, published and open.
"""

from __future__ import annotations

from flask import Flask

from services.filing import store as _store_module

# parts of the staff workspace (nested in the ``staff`` blueprint, behind its sign-in guard)
STAFF_PARTS = ("services.filing.dashboard", "services.filing.officer",
               "services.filing.receiving", "services.filing.planning")


def store(app: Flask) -> _store_module.FilingStore:
    """The site's filing store, opened once per app."""
    found = app.extensions.get("lantai.filing")
    if found is None:
        found = app.extensions["lantai.filing"] = _store_module.FilingStore.open(
            app.config["LANTAI_HOME"])
    return found
