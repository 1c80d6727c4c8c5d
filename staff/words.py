"""Words the staff pages translate at run time: ``{{ _(obj.state) }}``, ``{{ _(role) }}``.

Roles, workflow states, access levels, account statuses and the actions of changesets (the
dashboard's recent changes) are the repository's values
(``repo.objects``, ``repo.accounts``), and the menu's and tabs' labels are ``staff.web``'s
``MENU``/``TABS``; all are shown through ``_()`` with a variable, which message extraction
cannot see. They are listed here, each a literal message id, so that ``make
translations`` keeps them in ``staff/translations`` and their Chinese is written once;
``tests/test_staff_i18n.py`` checks this list covers every value the repository has.
"""

from __future__ import annotations

from flask_babel import lazy_gettext

MENU_AND_TABS = (
    lazy_gettext("Dashboard"), lazy_gettext("Browse"), lazy_gettext("Search"),
    lazy_gettext("Review queue"), lazy_gettext("Import"), lazy_gettext("Accounts"),
    lazy_gettext("Contents"), lazy_gettext("Edit"), lazy_gettext("Files"),
    lazy_gettext("Access"), lazy_gettext("Sharing"), lazy_gettext("History"),
    lazy_gettext("Export"), lazy_gettext("Requests"), lazy_gettext("Request statistics"),
    lazy_gettext("Filing"), lazy_gettext("Filing progress"), lazy_gettext("Filing plans"),
    lazy_gettext("Filing units"),
    lazy_gettext("Growth records"), lazy_gettext("My growth record"),
    lazy_gettext("Exhibit consents"),
)
ROLES = {
    "Reader": lazy_gettext("Reader"),
    "Contributor": lazy_gettext("Contributor"),
    "Editor": lazy_gettext("Editor"),
    "Reviewer": lazy_gettext("Reviewer"),
    "Manager": lazy_gettext("Manager"),
}
STATES = {
    "private": lazy_gettext("private"),
    "pending": lazy_gettext("pending"),
    "published": lazy_gettext("published"),
}
ACCESS_LEVELS = {
    "open": lazy_gettext("open"),
    "restricted": lazy_gettext("restricted"),
    "personal": lazy_gettext("personal"),
    "embargoed": lazy_gettext("embargoed"),
}
ACCOUNT_STATUSES = {
    "active": lazy_gettext("active"),
    "disabled": lazy_gettext("disabled"),
    "removed": lazy_gettext("removed"),
}
# what a changeset did (repo: Repository._commit's actions and the workflow's transitions)
ACTIONS = {
    "create": lazy_gettext("create"), "edit": lazy_gettext("edit"),
    "move": lazy_gettext("move"), "delete": lazy_gettext("delete"),
    "access": lazy_gettext("access"), "revert": lazy_gettext("revert"),
    "undelete": lazy_gettext("undelete"), "ingest": lazy_gettext("ingest"),
    "submit": lazy_gettext("submit"), "retract": lazy_gettext("retract"),
    "publish": lazy_gettext("publish"), "reject": lazy_gettext("reject"),
    "withdraw": lazy_gettext("withdraw"),
    "add-user": lazy_gettext("add-user"), "disable": lazy_gettext("disable"),
    "enable": lazy_gettext("enable"), "grant": lazy_gettext("grant"),
    "revoke": lazy_gettext("revoke"), "remove": lazy_gettext("remove"),
    "password": lazy_gettext("password"), "token": lazy_gettext("token"),
    "revoke-token": lazy_gettext("revoke-token"), "totp": lazy_gettext("totp"),
}
