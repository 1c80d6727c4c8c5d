"""Words the request pages translate at run time: ``{{ _(req.status) }}``, ``{{ _(k) }}``.

A request's state, kind, languages, delivery, channel and identity-document type are codes of
:mod:`services.requests.model`; its history's actions are the store's event names; the staff
actions are :data:`services.requests.staff_actions.ACTION_STATES`' keys; the entry form's
fields are :data:`services.requests.staff_entry.LIMITS`' keys. The pages show them through
``_()`` with a variable, which message extraction cannot see, so each is listed here as a
literal message id: ``make translations`` keeps them in ``services/translations`` and their
Chinese is written once. ``tests/test_services_i18n.py`` checks that this list covers every
code the model, the store and the staff actions have.

The message ids are the codes themselves, as the pages look them up; an English page shows
the code (``in_progress``) until the page maps codes to English labels.
"""

from __future__ import annotations

from flask_babel import lazy_gettext

STATES = {
    "unverified": lazy_gettext("unverified"), "submitted": lazy_gettext("submitted"),
    "in_progress": lazy_gettext("in_progress"), "fulfilled": lazy_gettext("fulfilled"),
    "closed": lazy_gettext("closed"), "refused": lazy_gettext("refused"),
    "withdrawn": lazy_gettext("withdrawn"),
}
KINDS = {
    "transcript": lazy_gettext("transcript"), "graduation": lazy_gettext("graduation"),
    "degree": lazy_gettext("degree"), "enrolment": lazy_gettext("enrolment"),
    "other": lazy_gettext("other"),  # an identity-document type too: one word for both
}
LANGUAGES = {"zh": lazy_gettext("zh"), "en": lazy_gettext("en")}
DELIVERIES = {
    "electronic": lazy_gettext("electronic"), "post": lazy_gettext("post"),
    "both": lazy_gettext("both"),
}
CHANNELS = {
    "web": lazy_gettext("web"), "email": lazy_gettext("email"),
    "wechat": lazy_gettext("wechat"), "staff": lazy_gettext("staff"),
}
ID_TYPES = {
    "resident_id": lazy_gettext("resident_id"), "passport": lazy_gettext("passport"),
    "hk_macau_permit": lazy_gettext("hk_macau_permit"),
    "taiwan_permit": lazy_gettext("taiwan_permit"), "other": lazy_gettext("other"),
}
# what a request's history says was done (the store's events, beside the states above)
EVENTS = {
    "created": lazy_gettext("created"), "corrected": lazy_gettext("corrected"),
    "transferred": lazy_gettext("transferred"), "assigned": lazy_gettext("assigned"),
    "urgent": lazy_gettext("urgent"), "not urgent": lazy_gettext("not urgent"),
    "matched": lazy_gettext("matched"), "selected": lazy_gettext("selected"),
    "viewed": lazy_gettext("viewed"), "issued": lazy_gettext("issued"),
    "revoked": lazy_gettext("revoked"), "downloaded": lazy_gettext("downloaded"),
    "dispatched": lazy_gettext("dispatched"), "purged": lazy_gettext("purged"),
    "mailed": lazy_gettext("mailed"), "mail failed": lazy_gettext("mail failed"),
}
# what staff may do (a refusal's message: "it cannot be <action> now"); ``revoke`` is
# allowed in every state, so never named in one, and its id is the staff catalog's already
ACTIONS = {
    "take": lazy_gettext("take"), "assign": lazy_gettext("assign"),
    "transfer": lazy_gettext("transfer"), "urgent": lazy_gettext("urgent"),
    "match": lazy_gettext("match"), "select": lazy_gettext("select"),
    "issue": lazy_gettext("issue"), "refuse": lazy_gettext("refuse"),
    "dispatch": lazy_gettext("dispatch"), "fulfil": lazy_gettext("fulfil"),
    "close": lazy_gettext("close"), "reopen": lazy_gettext("reopen"),
}
# the entry form's fields, named in "<field> is longer than n characters"
FIELDS = {
    "name": lazy_gettext("name"), "student_number": lazy_gettext("student_number"),
    "department": lazy_gettext("department"), "id_type": lazy_gettext("id_type"),
    "id_number": lazy_gettext("id_number"), "email": lazy_gettext("email"),
    "phone": lazy_gettext("phone"), "address": lazy_gettext("address"),
    "purpose": lazy_gettext("purpose"), "other_text": lazy_gettext("other_text"),
}
