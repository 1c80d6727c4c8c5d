"""A small growth record on the test site (tests/conftest.py ``site``), for the growth tests.

Zhang San (``/agents/zhang-san``, the site's person) took part in one activity of each
strand, personal data all: a paper (research, 2021-05-10, in Xi'an, a published place;
its certificate has a scan), volunteering (practice, 2020-02 to 2020-04, at a private
place), a Party class (party, 2019-10; its record is restricted: staff only), a
scholarship (honours, 2022; its note and its record's title carry markup, for the escaping
checks), and one without a strand (2018-09). Staff only: a disciplinary hearing
(restricted, 2021-01). Li Si (``/agents/li-si``) has one activity of his own. Accounts:
``zs`` (Zhang San, no role) and ``ls`` (Li Si, no role); ``office`` is an account whose agent
is a corporate body (not a student).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from iiif.media import ingest_media

FOLDER = "/growth-events"
FILE = "/xjtu/students/register-1957"
MARKUP = "<script>alert('growth')</script>"


@dataclass
class Growth:
    activities: dict[str, str] = field(default_factory=dict)  # name → IRI
    records: dict[str, str] = field(default_factory=dict)  # name → IRI
    scan_key: str = ""


def growth_site(folder: Path):
    """A new test site (tests/support.py ``new_site``) in ``folder`` with the growth record
    built: for module-scoped fixtures (building it takes seconds; the tests only read)."""
    from support import Clock, new_site

    site = new_site(folder / "site", Clock())
    return site, build_growth(site, folder)


def build_growth(site, tmp: Path) -> Growth:
    repo, admin = site.repo, site.repo.user("admin")
    made = Growth()
    repo.create(admin, "/", "folder", {"title": {"zh": "成长活动", "en": "Growth activities"}},
                slug="growth-events")
    repo.create(admin, "/agents", "person", {"name": {"zh": "李四", "en": "Li Si"}},
                slug="li-si", key="li-si")
    repo.create(admin, "/agents", "corporatebody",
                {"name": {"zh": "团委", "en": "Youth League committee"}}, slug="league")
    repo.create(admin, "/agents", "place", {"name": {"zh": "上海", "en": "Shanghai"}},
                slug="shanghai", key="shanghai", access="open")
    repo.transition(admin, "/agents/shanghai", "publish")

    def activity(slug, strand, name, begin, end="", place="", who="/agents/zhang-san",
                 access="personal", note=None):
        fields = {"name": name, "begin": begin, "participant": who}
        if strand:
            fields["strand"] = strand
        if end:
            fields["end"] = end
        if place:
            fields["place"] = place
        if note:
            fields["note"] = note
        obj = repo.create(admin, FOLDER, "activity", fields, slug=slug, access=access)
        made.activities[slug] = obj.iri
        return obj

    def record(slug, documents, title, access="personal", about="/agents/zhang-san"):
        obj = repo.create(admin, FILE, "item", {"title": title, "documents": documents,
                                                "subject": about, "begin": "2021"},
                          slug=slug, access=access)
        made.records[slug] = obj.iri
        return obj

    paper = activity("paper", "research", {"zh": "发表论文", "en": "Published a paper"},
                     "2021-05-10", place="/agents/shanghai")
    vol = activity("volunteer", "practice", {"zh": "校门志愿服务", "en": "Gate volunteering"},
                   "2020-02", "2020-04", place="/agents/xian")
    party = activity("party-class", "party", {"zh": "入党积极分子培训", "en": "Party class"},
                     "2019-10")
    prize = activity("scholarship", "honours", {"zh": "国家奖学金", "en": "National scholarship"},
                     "2022", note={"en": "Awarded " + MARKUP})
    activity("orientation", "", {"zh": "新生入学教育", "en": "Freshman orientation"},
             "2018-09")
    activity("hearing", "practice", {"zh": "违纪听证", "en": "Disciplinary hearing"},
             "2021-01", access="restricted")
    activity("li-si-award", "honours", {"zh": "李四获奖", "en": "Li Si's award"}, "2021-06",
             who="/agents/li-si")

    cert = record("paper-certificate", paper.iri,
                  {"zh": "论文录用证明", "en": "Acceptance letter of the paper"})
    record("volunteer-certificate", vol.iri, {"zh": "志愿服务证书", "en": "Volunteer certificate"})
    record("party-file", party.iri, {"zh": "培训考察材料", "en": "Party class assessment"},
           access="restricted")
    record("scholarship-letter", prize.iri,
           {"zh": "奖学金通知", "en": "Scholarship letter " + MARKUP})
    record("gone", prize.iri, {"zh": "已删除", "en": "Deleted record"})
    repo.delete(admin, f"{FILE}/gone")

    scan = tmp / "certificate.jpg"
    Image.new("RGB", (800, 1100), (240, 236, 220)).save(scan, quality=80)
    ingest_media(repo, admin, cert.path, [scan], ocr=False)
    kids = repo.children(admin, cert.path)
    made.scan_key = kids[0].iri.rsplit("/", 1)[-1]

    repo.add_user(admin, "zs", roles=[], fullname="Zhang San", agent="/agents/zhang-san")
    repo.add_user(admin, "ls", roles=[], fullname="Li Si", agent="/agents/li-si")
    repo.add_user(admin, "office", roles=[], fullname="League office", agent="/agents/league")
    return made
