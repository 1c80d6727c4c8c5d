"""Outgoing e-mail through the site's SMTP server (settings ``smtp_*``; the password, if the
server wants one, from ``LANTAI_SMTP_PASSWORD``, never from the site folder).

Messages are plain text in the requester's language, built with the standard library's
:class:`email.message.EmailMessage` (UTF-8 headers and body) and sent with :mod:`smtplib`.
A failure to send is :class:`MailError` with one line saying why; the caller decides whether
the step it belongs to fails (an e-mail code must arrive) or goes on (a copy is issued and the
status page offers it even if the mail bounced).
"""

from __future__ import annotations

import os
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from repo.config import Settings
from repo.errors import LantaiError

TIMEOUT_S = 20


class MailError(LantaiError):
    """The message could not be handed to the SMTP server (503: try again later)."""

    http_status = 503


def send(settings: Settings, to: str, subject: str, body: str, *,
         attachments: tuple[tuple[str, str, bytes], ...] = ()) -> str:
    """Send one message; returns its Message-ID. ``attachments``: (filename, mime, data)."""
    if not settings.smtp_host:
        raise MailError("no SMTP server is configured (smtp_host in lantai.toml)")
    msg = EmailMessage()
    msg["From"] = formataddr((settings.site_name_zh + " " + settings.site_name_en,
                              settings.smtp_from))
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain=settings.smtp_from.rpartition("@")[2] or None)
    msg.set_content(body)
    for filename, mime, data in attachments:
        maintype, _, subtype = mime.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_S) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            password = os.environ.get("LANTAI_SMTP_PASSWORD")
            if settings.smtp_user and password:
                smtp.login(settings.smtp_user, password)
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"the mail server {settings.smtp_host}:{settings.smtp_port} "
                        f"did not take the message: {exc}") from None
    return str(msg["Message-ID"])
