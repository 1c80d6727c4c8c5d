"""The request form's fields and their checks: every field bounded, every problem said next
to the field it concerns, the values kept so the requester corrects rather than retypes.

:func:`read_request` turns the posted form into a :class:`Submission` (the arguments of
:meth:`RequestStore.create`) or a dict of problems by field. Messages are English message ids
(:func:`publisher.i18n.ui_text`), shown in the page's language.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from publisher.i18n import UIText, ui_text
from services.requests.model import DELIVERIES, ID_TYPES, KINDS, LANGUAGES, Personal

# the longest each text field may be (characters)
MAX_LENGTH = {"name": 100, "student_number": 32, "department": 100, "id_number": 32,
              "other_text": 500, "purpose": 500, "address": 300, "email": 254, "phone": 32}
FIRST_YEAR = 1896  # the university's founding: no one studied here earlier
MAX_COPIES = 20
CODE_LENGTH = 6

REQUIRED = ui_text("Required.")
TOO_LONG = ui_text("At most %(n)s characters.")
CHOOSE = ui_text("Choose one of the options.")
CHOOSE_LANGUAGE = ui_text("Choose Chinese, English or both.")
BAD_YEAR = ui_text("A year between %(first)s and %(last)s.")
YEARS_ORDER = ui_text("The first year comes before the last.")
BAD_COPIES = ui_text("A number from 1 to %(n)s.")
BAD_EMAIL = ui_text("An e-mail address such as name@example.com.")
BAD_PHONE = ui_text("Digits, spaces, +, - and brackets only.")
BAD_ID_NUMBER = ui_text("Letters, digits and - only.")
BAD_STUDENT_NUMBER = ui_text("Letters, digits and - only.")
NEED_ADDRESS = ui_text("A postal address is needed for delivery by post.")
NEED_OTHER = ui_text("Say which record you ask for.")
CONTROL = ui_text("Control characters are not allowed.")

_EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$")
_PHONE = re.compile(r"^[0-9+\-() ]*$")
_ID = re.compile(r"^[A-Za-z0-9\-]*$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class Submission:
    """A checked request form: what :meth:`RequestStore.create` takes."""

    kind: str
    languages: tuple[str, ...]
    copies: int
    delivery: str
    personal: Personal
    year_from: int | None = None
    year_to: int | None = None


@dataclass
class Checked:
    """The form as posted (to show again) and its problems by field (empty: fine)."""

    values: dict[str, object] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    submission: Submission | None = None


def empty_values() -> dict[str, object]:
    return {"kind": "transcript", "languages": ["zh"], "copies": "1", "delivery": "electronic",
            "id_type": "resident_id"}


def read_request(form: Mapping[str, str], getlist, lang: str) -> Checked:
    """Check the posted request form. ``getlist(name)`` gives a multi-valued field's values
    (``request.form.getlist``); ``lang`` is the language of the messages."""
    out = Checked()
    errors = out.errors

    def say(name: str, text: UIText, **values: object) -> None:
        errors.setdefault(name, text.in_lang(lang, **values))

    def text(name: str, required: bool = False) -> str:
        value = str(form.get(name, "")).strip()
        out.values[name] = value[:MAX_LENGTH[name] + 50]  # shown again, bounded
        if len(value) > MAX_LENGTH[name]:
            say(name, TOO_LONG, n=MAX_LENGTH[name])
        elif _CONTROL.search(value):
            say(name, CONTROL)
        elif required and not value:
            say(name, REQUIRED)
        return value

    def choice(name: str, options: tuple[str, ...]) -> str:
        value = str(form.get(name, ""))[:40]
        out.values[name] = value
        if value not in options:
            say(name, CHOOSE)
        return value

    def year(name: str) -> int | None:
        raw = str(form.get(name, "")).strip()[:10]
        out.values[name] = raw
        if not raw:
            return None
        last = dt.date.today().year
        if not raw.isdigit() or not FIRST_YEAR <= int(raw) <= last:
            say(name, BAD_YEAR, first=FIRST_YEAR, last=last)
            return None
        return int(raw)

    name = text("name", required=True)
    student_number = text("student_number")
    if student_number and not _ID.fullmatch(student_number):
        say("student_number", BAD_STUDENT_NUMBER)
    year_from, year_to = year("year_from"), year("year_to")
    if year_from and year_to and year_from > year_to:
        say("year_to", YEARS_ORDER)
    department = text("department")
    id_type = choice("id_type", ID_TYPES)
    id_number = text("id_number", required=True)
    if id_number and not _ID.fullmatch(id_number):
        say("id_number", BAD_ID_NUMBER)
    kind = choice("kind", KINDS)
    other_text = text("other_text")
    if kind == "other" and not other_text and "other_text" not in errors:
        say("other_text", NEED_OTHER)
    languages = [x for x in getlist("languages")[:4] if isinstance(x, str)]
    out.values["languages"] = [x for x in languages if x in LANGUAGES]
    if not languages or any(x not in LANGUAGES for x in languages):
        say("languages", CHOOSE_LANGUAGE)
    raw_copies = str(form.get("copies", "1")).strip()[:6]
    out.values["copies"] = raw_copies
    copies = int(raw_copies) if raw_copies.isdigit() else 0
    if not 1 <= copies <= MAX_COPIES:
        say("copies", BAD_COPIES, n=MAX_COPIES)
    purpose = text("purpose", required=True)
    delivery = choice("delivery", DELIVERIES)
    address = text("address")
    if delivery in ("post", "both") and not address and "address" not in errors:
        say("address", NEED_ADDRESS)
    email = text("email", required=True)
    if email and "email" not in errors and not _EMAIL.fullmatch(email):
        say("email", BAD_EMAIL)
    phone = text("phone")
    if phone and not _PHONE.fullmatch(phone):
        say("phone", BAD_PHONE)
    if errors:
        return out
    out.submission = Submission(
        kind=kind, languages=tuple(dict.fromkeys(languages)), copies=copies, delivery=delivery,
        year_from=year_from, year_to=year_to,
        personal=Personal(name=name, student_number=student_number, department=department,
                          id_type=id_type, id_number=id_number.upper(), email=email,
                          phone=phone, address=address, purpose=purpose,
                          other_text=other_text if kind == "other" else ""))
    return out


def read_code(form: Mapping[str, str]) -> str:
    """A six-digit code as typed (spaces allowed); empty if it cannot be one."""
    code = str(form.get("code", ""))[:20].replace(" ", "").strip()
    return code if len(code) == CODE_LENGTH and code.isdigit() else ""


def read_lookup(form: Mapping[str, str]) -> tuple[str, str]:
    """The status page's request number and e-mail, bounded (empty when out of bounds)."""
    number = str(form.get("number", "")).strip()
    email = str(form.get("email", "")).strip()
    if len(number) > 40 or _CONTROL.search(number):
        number = ""
    if len(email) > MAX_LENGTH["email"] or not _EMAIL.fullmatch(email):
        email = ""
    return number, email
