"""A real SMTP server for tests (aiosmtpd on a free loopback port) that keeps what it
received, so a test reads the e-mail a requester would read.

Use the ``smtp`` fixture (tests/conftest.py): ``smtp.configure(home)`` points a site's
settings at it; ``smtp.messages`` are the parsed messages; ``smtp.wait_for(to=...)`` waits
for one to arrive and returns it.
"""

from __future__ import annotations

import email
import email.policy
import re
import threading
import time
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from support import free_port

from repo.config import read_settings, write_settings


class _Handler:
    def __init__(self, box: SmtpServer) -> None:
        self.box = box

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.box.lock:
            self.box.messages.append(msg)  # type: ignore[arg-type]
        return "250 OK"


class SmtpServer:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def configure(self, home: Path) -> None:
        """Point the site at this server (written to its lantai.toml)."""
        settings = read_settings(home)
        write_settings(home, replace(settings, smtp_host="127.0.0.1", smtp_port=self.port,
                                     smtp_from="archives@lantai.test"))

    def wait_for(self, to: str, timeout: float = 10.0, after: int = 0) -> EmailMessage:
        """The first message to ``to`` among those received after the ``after``-th."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                for msg in self.messages[after:]:
                    if to.lower() in str(msg["To"]).lower():
                        return msg
            time.sleep(0.05)
        raise AssertionError(f"no e-mail to {to} within {timeout} s "
                             f"(got {len(self.messages)} message(s))")

    @staticmethod
    def text(msg: EmailMessage) -> str:
        part = msg.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""

    @staticmethod
    def code_in(msg: EmailMessage) -> str:
        """The six-digit code in a message."""
        found = re.search(r"\b(\d{6})\b", SmtpServer.text(msg))
        assert found, "no six-digit code in the e-mail"
        return found.group(1)
