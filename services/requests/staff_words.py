"""The words staff pages show for a request's stored values (states, kinds, deliveries,
channels, identity documents, languages, history actions): English message ids, translated
by the catalog like every other text (the public form uses the same ids for the same
things). A value with no word here is shown as it is stored."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l  # `make translations` extracts _l too
from flask_babel import lazy_pgettext

WORDS = {
    # states
    "unverified": _l("e-mail not confirmed"), "submitted": _l("submitted"),
    "in_progress": _l("in progress"), "fulfilled": _l("fulfilled"), "closed": _l("closed"),
    "refused": _l("refused"), "withdrawn": _l("withdrawn"),
    # kinds ("Transcript" with a context: the public pages' one is an oral history's)
    "transcript": lazy_pgettext("kind", "Transcript"), "graduation": _l("Graduation certificate"),
    "degree": _l("Degree certificate"), "enrolment": _l("Enrolment record"),
    "other": _l("Other record"),
    # deliveries
    "electronic": _l("electronic"), "post": _l("by post"), "both": _l("electronic and by post"),
    # channels
    "web": _l("web form"), "email": _l("e-mail"), "wechat": _l("WeChat"),
    "staff": _l("in person"),
    # identity documents
    "resident_id": _l("Resident identity card"), "passport": _l("Passport"),
    "hk_macau_permit": _l("Permit for Hong Kong and Macao residents"),
    "taiwan_permit": _l("Permit for Taiwan residents"),
    # languages
    "zh": _l("Chinese"), "en": _l("English"),
    # history actions that are not states
    "created": _l("created"), "viewed": _l("viewed"), "assigned": _l("assigned"),
    "transferred": _l("transferred"), "matched": _l("matched"), "selected": _l("selected"),
    "issued": _l("issued"), "revoked": _l("revoked"), "dispatched": _l("dispatched"),
    "purged": _l("purged"), "mailed": _l("mailed"), "mail failed": _l("mail failed"),
    "downloaded": _l("downloaded"), "corrected": _l("corrected"), "urgent": _l("urgent"),
    "not urgent": _l("not urgent"),
}
# "other" is both a kind and an identity document: the kind's word is "Other record"
ID_WORDS = {**{k: WORDS[k] for k in ("resident_id", "passport", "hk_macau_permit",
                                      "taiwan_permit")}, "other": _l("Other document")}


# the entry form's fields, named in "<field> is longer than n characters" (the form's labels)
FIELD_WORDS = {
    "name": _l("Full name"), "student_number": _l("Student number"),
    "department": _l("Department"), "id_type": _l("Identity document"),
    "id_number": _l("Identity document number"), "email": _l("E-mail"), "phone": _l("Phone"),
    "address": _l("Postal address"), "purpose": _l("Purpose"),
    "other_text": _l("Which record (for “other”)"),
}


def word(value: str) -> str:
    """The word for a stored value in the page's language (the value itself if none)."""
    found = WORDS.get(value)
    return str(found) if found is not None else value


def id_word(value: str) -> str:
    found = ID_WORDS.get(value)
    return str(found) if found is not None else value


def field_word(name: str) -> str:
    """The label of an entry form's field in the page's language (the name itself if none)."""
    found = FIELD_WORDS.get(name)
    return str(found) if found is not None else name
