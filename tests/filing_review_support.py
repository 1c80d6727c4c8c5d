"""The filing loop's review tests share this: a site with two filing units (the School of
Energy, the School of Electrical Engineering), an officer for each, a 2026 task of the
energy unit into the students' series, and helpers to submit items with real files."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from PIL import Image

from services.filing import units
from services.filing.model import FiledFile, Item, Submission, Task
from services.filing.store import FilingStore

ENERGY = "/agents/energy"
SERIES = "/xjtu/students"


def png(path: Path, colour: str = "red") -> Path:
    Image.new("RGB", (40, 30), colour).save(path, "PNG")
    return path


def docx(path: Path) -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<document>教学大纲</document>")
    path.write_bytes(buf.getvalue())
    return path


class Loop:
    """A site with the School of Energy as a filing unit, its officer and a 2026 task."""

    def __init__(self, site, tmp: Path) -> None:
        self.site, self.tmp = site, tmp
        repo, admin = site.repo, site.admin
        repo.create(admin, "/agents", "corporatebody",
                    {"name": {"zh": "能源与动力工程学院", "en": "School of Energy"}},
                    slug="energy")
        repo.create(admin, "/agents", "corporatebody",
                    {"name": {"zh": "电气学院", "en": "School of Electrical Engineering"}},
                    slug="electrical")
        self.store = FilingStore.open(site.home)
        self.unit = units.add_unit(repo, self.store, admin, ENERGY, "energy",
                                   email="energy-office@lantai.test")
        units.add_unit(repo, self.store, admin, "/agents/electrical", "electrical")
        repo.add_user(admin, "officer", roles=[], fullname="Energy's officer")
        repo.add_user(admin, "other", roles=[], fullname="Electrical's officer")
        units.appoint(repo, self.store, admin, "officer", "energy")
        units.appoint(repo, self.store, admin, "other", "electrical")
        [self.task] = self.store.add_tasks([Task(
            id=0, year=2026, unit="energy", category="XS", series=SERIES, retention="Y",
            title_zh="学生工作档案", expected=3)])

    def file(self, path: Path) -> FiledFile:
        return self.store.put_file(path)

    def submit(self, *rows: tuple[dict, list[FiledFile]]) -> Submission:
        items = [Item(id=0, submission="", row=n, fields=fields, files=files)
                 for n, (fields, files) in enumerate(rows, start=1)]
        return self.store.add_submission(Submission(
            id="", year=2026, unit="energy", task=self.task, channel="form", source="form",
            created="", created_by="officer", items=items))

    def fields(self, title: str, date: str = "2026-03-01") -> dict[str, list[str]]:
        return {"title@zh": [title], "date": [date], "note@zh": ["教学检查"]}
