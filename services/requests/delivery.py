"""Delivering an issued certified copy: an e-mail to the requester with a download link and
the copy's verification code (issue 12, item 6).

The link (``{base}/requests/download/<token>``) expires after ``requests_link_days`` and
opens ``requests_link_uses`` times (only its hash is stored, see
:meth:`RequestStore.new_link`); the requester's status page makes fresh links. The mail is
written in the request's first language with a bilingual subject, so it reads right even
before it is opened. The step is recorded either way: ``mailed``, or ``mail failed`` and
the :class:`~services.requests.mail.MailError` raised again for staff to see (the copy stays
issued and the status page still offers it).
"""

from __future__ import annotations

from publisher.i18n import UIText, ui_text
from repo.config import Settings
from repo.errors import Invalid
from services.requests import mail
from services.requests.model import Copy
from services.requests.store import RequestStore

SUBJECT = ui_text("Your certified copy — %(number)s")
BODY = ui_text(
    "Dear %(name)s,\n\n"
    "The certified copy you asked for (request %(number)s) is ready. Download it here:\n\n"
    "%(link)s\n\n"
    "The link works %(uses)s times within %(days)s days. After that, open the status page "
    "with your request number and e-mail address for a new one:\n%(status)s\n\n"
    "The copy carries the archive's electronic signature. Anyone who receives it can check "
    "it at %(verify)s with the verification code %(code)s (printed on every page).\n\n"
    "%(site)s")


def bilingual(text: UIText, **values: object) -> str:
    """A subject in Chinese and English ("中文 / English"), readable before it is opened."""
    zh, en = text.in_lang("zh", **values), text.in_lang("en", **values)
    return en if zh == en else f"{zh} / {en}"


def deliver(store: RequestStore, settings: Settings, request_id: str, copy: Copy,
            base: str) -> None:
    """E-mail the requester a download link for ``copy``; record ``mailed`` or
    ``mail failed`` (and re-raise the :class:`MailError`)."""
    if copy.request_id != request_id:
        raise Invalid(f"copy {copy.code} belongs to another request")
    req = store.get(request_id, unseal=True)
    if req.personal is None or not req.personal.email:
        raise Invalid(f"request {request_id} has no e-mail address to deliver to")
    lang = req.languages[0] if req.languages else "zh"
    base = base.rstrip("/")
    token = store.new_link(copy.code)
    body = BODY.in_lang(
        lang, name=req.personal.name, number=request_id,
        link=f"{base}/requests/download/{token}", uses=settings.requests_link_uses,
        days=settings.requests_link_days, status=f"{base}/requests/status",
        verify=f"{base}/verify", code=copy.code,
        site=settings.site_name_zh if lang == "zh" else settings.site_name_en)
    try:
        mail.send(settings, req.personal.email, bilingual(SUBJECT, number=request_id), body)
    except mail.MailError as exc:
        store.note(request_id, "system", "mail failed", f"{copy.code}: {exc.message}")
        raise
    store.note(request_id, "system", "mailed", copy.code)
