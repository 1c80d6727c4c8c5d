"""A link checker over the whole public site of the live demo server: every internal link
(``href`` and ``src``) of every page reachable from the home, exhibit, search and SPARQL
pages, in both languages, answers 200 (after redirects). A link to a 404 is a broken page.
"""

from __future__ import annotations

import re
from collections import deque
from html import unescape
from urllib.parse import urldefrag, urljoin

import requests

MAX_URLS = 4000
LINK = re.compile(r'(?:href|src)="([^"]+)"')
SEEDS = ["/", "/exhibits/", "/search", "/sparql", "/search?q=%E8%A5%BF%E8%BF%81",
         "/search?q=interview", "/id/recordset/xjtu"]


def test_every_internal_link_answers_200(demo_server):
    session = requests.Session()
    queue = deque(demo_server + s + ("&" if "?" in s else "?") + f"lang={lang}"
                  for s in SEEDS for lang in ("zh", "en"))
    status: dict[str, int] = {}
    linked_from: dict[str, str] = {}
    while queue and len(status) < MAX_URLS:
        url = queue.popleft()
        if url in status:
            continue
        resp = session.get(url, headers={"Accept": "text/html,*/*;q=0.8"}, timeout=60)
        status[url] = resp.status_code
        if resp.status_code != 200 or "text/html" not in resp.headers.get("Content-Type", ""):
            continue
        for raw in LINK.findall(resp.text):
            link = urldefrag(urljoin(resp.url, unescape(raw)))[0]
            if link.startswith(demo_server) and link not in status:
                linked_from.setdefault(link, url)
                queue.append(link)
    assert len(status) > 300, len(status)
    broken = [f"{code} {url} (linked from {linked_from.get(url)})"
              for url, code in status.items() if code != 200]
    assert not broken, "\n".join(broken[:30])
