"""A request entered by staff on a requester's behalf (``/staff/requests/new``): one that came
by e-mail, through the WeChat account, or at the desk. The same fields as the public form;
the request is created ``submitted`` (``verified=True``): staff vouch for the contact, so no
e-mail code is sent. The identity-document image may be attached (bounded, a real image).
"""

from __future__ import annotations

import io

from flask import current_app, redirect, request, url_for
from flask_babel import gettext as _
from PIL import Image
from werkzeug.wrappers import Response

from repo.errors import Invalid, LantaiError
from services.requests.forms import MAX_LENGTH
from services.requests.model import DELIVERIES, ID_TYPES, KINDS, LANGUAGES, Personal
from services.requests.staff import bp, store
from services.requests.staff_words import field_word, id_word, word
from staff import web

CHANNELS = ("email", "wechat", "staff")  # how a request reaches staff (the web is public)
MB = 1024 * 1024
MAX_PIXELS = 40_000_000  # an identity document photographed at any phone's resolution
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP")
# field → most characters kept
LIMITS = {**MAX_LENGTH, "id_type": 20}  # the public form's
YEARS = (1896, 2100)  # the university's founding to a far future


def bound_upload() -> Response | None:
    """Before the body is read: the entry form may carry an image of the site's limit."""
    if request.endpoint != "staff.requests.create":
        return None
    limit = current_app.config["SETTINGS"].requests_upload_max_mb * MB + MB
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        return web.error_page(413, _("The upload is larger than this site accepts "
                                     "(%(mb)s MB). Nothing was stored.", mb=limit // MB))
    return None


def form_page(status: int = 200, **extra) -> Response:
    return web.render("staff_requests/new.html", status, channels=CHANNELS, kinds=KINDS,
                      languages=LANGUAGES, deliveries=DELIVERIES, id_types=ID_TYPES,
                      limits=LIMITS, form=request.form, word=word, id_word=id_word, **extra)


@bp.get("/new")
def new() -> Response:
    return form_page()


def field(name: str) -> str:
    value = request.form.get(name, "").strip()
    if len(value) > LIMITS[name]:
        raise Invalid(_("%(field)s is longer than %(n)d characters", field=field_word(name),
                        n=LIMITS[name]))
    return value


def year(name: str) -> int | None:
    value = request.form.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or not YEARS[0] <= int(value) <= YEARS[1]:
        raise Invalid(_("Years of study: from %(lo)d to %(hi)d", lo=YEARS[0], hi=YEARS[1]))
    return int(value)


def id_image() -> bytes | None:
    """The uploaded identity-document image, if one was sent: a JPEG, PNG or WebP that
    opens, of bounded size and pixel count (a decompression bomb is refused unread)."""
    upload = request.files.get("id_image")
    if upload is None or not upload.filename:
        return None
    data = upload.read()
    if not data:
        return None
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format not in IMAGE_FORMATS:
                raise Invalid(_("The identity document must be a JPEG, PNG or WebP image."))
            if im.width * im.height > MAX_PIXELS:
                raise Invalid(_("The image is too large (more than %(n)d million pixels).",
                                n=MAX_PIXELS // 1_000_000))
            im.verify()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise Invalid(_("The identity document is not an image that can be read.")) from exc
    return data


@bp.post("/new")
def create() -> Response:
    try:
        channel = request.form.get("channel", "")
        if channel not in CHANNELS:
            raise Invalid(_("Channel: e-mail, WeChat or in person"))
        personal = Personal(**{name: field(name) for name in LIMITS})
        if personal.id_type not in ID_TYPES:
            raise Invalid(_("Choose the kind of identity document."))
        if personal.email and "@" not in personal.email:
            raise Invalid(_("The e-mail address is not valid."))
        languages = tuple(x for x in LANGUAGES if x in request.form.getlist("languages"))
        copies_text = request.form.get("copies", "1").strip()[:3] or "1"
        if not copies_text.isdigit():
            raise Invalid(_("Copies: 1 to 20"))
        y_from, y_to = year("year_from"), year("year_to")
        if y_from and y_to and y_from > y_to:
            raise Invalid(_("Years of study: the first year before the last"))
        image = id_image()
        note = request.form.get("note", "").strip()[:2000]
        req = store().create(
            kind=request.form.get("kind", ""), languages=languages, copies=int(copies_text),
            delivery=request.form.get("delivery", ""), channel=channel, personal=personal,
            year_from=y_from, year_to=y_to, urgent=request.form.get("urgent") == "1",
            actor=web.username(), verified=True, note=note or channel)
    except LantaiError as exc:
        return form_page(exc.http_status, error=exc.message)
    if image is not None:
        store().set_id_image(req.id, image)
    return redirect(url_for(".show", number=req.id, done="created"), 303)
