"""The request statistics in Chromium: the ECharts charts draw under the workspace's strict
Content-Security-Policy (JavaScript from a static file, data from a JSON block, rich-text
tooltips), with no JavaScript error, no CSP violation and no serious axe finding."""

from __future__ import annotations

import pytest
from test_requests_stats import RANGE, fill
from test_staff_browser import Desk, browser, live  # noqa: F401  (fixtures, reused)

from services.requests.store import RequestStore

pytestmark = pytest.mark.browser


def test_the_charts_draw_under_the_strict_policy(browser, live):  # noqa: F811
    fill(RequestStore.open(live.home))
    desk = Desk(browser, live)
    try:
        desk.sign_in("editor")
        desk.open(f"/staff/requests/statistics?{RANGE}", name="request-statistics")
        page = desk.page
        for name in ("months", "kinds", "channels", "workrooms"):
            chart = page.locator(f"#chart-{name}")
            page.wait_for_selector(f"#chart-{name}[data-drawn=true] canvas", timeout=10_000)
            assert chart.bounding_box()["height"] > 100, name
        # a tooltip (ECharts draws it on hover): still no CSP violation
        box = page.locator("#chart-months").bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_timeout(300)
        desk.audit()
    finally:
        desk.close()
