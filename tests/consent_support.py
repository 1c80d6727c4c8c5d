"""Growth records to consent to, on the standard test site (tests/conftest.py ``site``).

Two students with accounts (``zhang`` is /agents/zhang-san, ``lisi`` is /agents/li-si, no
site role), activities in the strands with canary notes, and personal records documenting
them inside an open, published series (so that consent can make a record public), one with
a scan; a record of a closed series; the student exhibit ``/exhibits/student-memories``
(published) without its growth section (the first consent makes it). The persons and the
activities stay private: only what is consented may ever be public.

Canaries: ``CANARY-GROWTH-…`` in the activities' notes and names and in the titles of the
records no one consents to; the consented record (``cert``) has none in its own description.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image
from support import Site

from repo.security import User

SERIES = "/xjtu/students"
EXHIBIT = "/exhibits/student-memories"
SECTION = "/exhibits/student-memories/growth"
CANARIES = ("CANARY-GROWTH-NOTE-1", "CANARY-GROWTH-NOTE-2", "CANARY-GROWTH-ACT-3",
            "CANARY-GROWTH-TITLE-2", "CANARY-GROWTH-TITLE-3", "CANARY-GROWTH-TITLE-4")


@dataclass
class Growth:
    """IRIs and paths of what :func:`build_growth` made."""

    paths: dict[str, str] = field(default_factory=dict)  # name → path
    iris: dict[str, str] = field(default_factory=dict)  # name → IRI


def build_growth(site: Site, tmp: Path, *, scan: bool = True) -> Growth:
    repo, admin = site.repo, site.admin
    for path in ("/xjtu", SERIES):
        repo.transition(admin, path, "publish")
        if repo.get(admin, path).access != "open":
            repo.set_access(admin, path, "open")
    made = {
        "li-si": repo.create(admin, "/agents", "person", {"name": {"zh": "李四", "en": "Li Si"}},
                             slug="li-si", key="li-si"),
        "exhibits": repo.create(admin, "/", "folder", {"title": {"en": "Exhibits"}},
                                slug="exhibits", key="exhibits"),
    }
    made["exhibit"] = repo.create(admin, "/exhibits", "exhibit", {
        "title": {"zh": "学生记忆", "en": "Student memories"},
        "summary": {"zh": "学生的求学时光。", "en": "Student years."}},
        slug="student-memories", key="student-memories")
    repo.transition(admin, EXHIBIT, "publish")

    def activity(slug: str, person: str, strand: str, name: str, note: str):
        return repo.create(admin, "/agents", "activity", {
            "name": {"zh": name}, "strand": strand, "participant": [person],
            "begin": "2019-09-01", "note": {"zh": note}}, slug=slug, key=slug)

    made["act-1"] = activity("act-1", "/agents/zhang-san", "honours", "国家奖学金",
                             "CANARY-GROWTH-NOTE-1 家庭情况")
    made["act-2"] = activity("act-2", "/agents/zhang-san", "practice", "支教",
                             "CANARY-GROWTH-NOTE-2 山区小学")
    made["act-3"] = activity("act-3", "/agents/li-si", "party", "党课 CANARY-GROWTH-ACT-3",
                             "李四的活动")

    def record(slug: str, parent: str, title: str, act: str, person: str):
        return repo.create(admin, parent, "item", {
            "title": {"zh": title}, "documents": [act], "subject": [person],
            "begin": "2019-10-01"}, slug=slug, key=slug, access="personal")

    made["cert"] = record("cert", SERIES, "国家奖学金证书 National scholarship certificate",
                          "/agents/act-1", "/agents/zhang-san")
    made["teaching"] = record("teaching", SERIES, "支教证明 CANARY-GROWTH-TITLE-2",
                              "/agents/act-2", "/agents/zhang-san")
    made["lisi-rec"] = record("lisi-rec", SERIES, "李四的证书 CANARY-GROWTH-TITLE-3",
                              "/agents/act-3", "/agents/li-si")
    made["closed"] = record("closed", "/xjtu/admin", "行政类中的证书 CANARY-GROWTH-TITLE-4",
                            "/agents/act-1", "/agents/zhang-san")
    if scan:
        from iiif.media import ingest_media

        tmp.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (300, 400), (200, 180, 150)).save(tmp / "cert-scan.png")
        ingest_media(repo, admin, made["cert"].path, [tmp / "cert-scan.png"], ocr=False)
    repo.add_user(admin, "zhang", roles=[], fullname="张三", agent="/agents/zhang-san")
    repo.add_user(admin, "lisi", roles=[], fullname="李四", agent="/agents/li-si")
    growth = Growth()
    for name, obj in made.items():
        growth.paths[name], growth.iris[name] = obj.path, obj.iri
    growth.paths["zhang-san"] = "/agents/zhang-san"
    growth.iris["zhang-san"] = repo.resolve("/agents/zhang-san")
    return growth


def student(site: Site, name: str = "zhang") -> User:
    return site.repo.user(name)
