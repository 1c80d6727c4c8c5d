"""A site ready for filing (units, officers, tasks) and the files units send: real PDFs,
JPEGs, XLSX workbooks, CSV files in several encodings, BagIt bags. For the intake tests."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import bagit
import openpyxl
from fpdf import FPDF
from PIL import Image
from support import AGENTS, SERIES, Site

from services.filing import units
from services.filing.model import Task
from services.filing.store import FilingStore

TEACHER = "/agents/li-ming"


@dataclass
class Filing:
    site: Site
    store: FilingStore
    jx: int  # the teaching task of the unit "energy"
    xs: int  # a students task of "energy"
    other: int  # a task of the unit "youth"


def filing_site(site: Site) -> Filing:
    """Two units (energy, youth) with an officer each (officer, officer2), a teacher named
    李明, and a teaching task, a students task and a task of the other unit."""
    repo, admin = site.repo, site.admin
    repo.create(admin, AGENTS, "corporatebody", {"name": {"zh": "能源与动力工程学院",
                                                          "en": "School of Energy"}},
                slug="energy", key="energy")
    repo.create(admin, AGENTS, "corporatebody", {"name": {"zh": "校团委", "en": "Youth League"}},
                slug="youth", key="youth")
    repo.create(admin, AGENTS, "person", {"name": {"zh": "李明", "en": "Li Ming"}},
                slug="li-ming", key="li-ming")
    repo.transition(admin, AGENTS, "publish")  # agents are public: officers name them
    repo.transition(admin, TEACHER, "publish")
    store = FilingStore.open(site.home)
    units.add_unit(repo, store, admin, "/agents/energy", "energy", email="energy@example.edu")
    units.add_unit(repo, store, admin, "/agents/youth", "youth")
    repo.add_user(admin, "officer", roles=[], fullname="Energy's filing officer")
    repo.add_user(admin, "officer2", roles=[], fullname="Youth League's filing officer")
    units.appoint(repo, store, admin, "officer", "energy")
    units.appoint(repo, store, admin, "officer2", "youth")
    jx, xs, other = store.add_tasks([
        Task(0, 2026, "energy", "JX", SERIES, "D30", "本学期教学档案", expected=12),
        Task(0, 2026, "energy", "XS", SERIES, "Y", "学生档案", expected=5),
        Task(0, 2026, "youth", "XS", SERIES, "Y", "团委档案", expected=3),
    ])
    return Filing(site, store, jx, xs, other)


# ---------------------------------------------------------------------------- files
def pdf_bytes(text: str = "Lantai") -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text=text)
    return bytes(pdf.output())


def jpeg_bytes(seed: int = 0) -> bytes:
    bio = io.BytesIO()
    Image.new("RGB", (8, 8), (seed % 256, 40, 90)).save(bio, "JPEG")
    return bio.getvalue()


def write_files(folder: Path, names: Sequence[str]) -> None:
    """Real files of the type their extension says (distinct bytes per name)."""
    folder.mkdir(parents=True, exist_ok=True)
    for n, name in enumerate(names):
        ext = name.rsplit(".", 1)[-1].lower()
        data = jpeg_bytes(n) if ext in ("jpg", "jpeg") else pdf_bytes(f"{name} {n}")
        (folder / name).write_bytes(data)


def write_xlsx(path: Path, rows: Sequence[Sequence[object]]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in rows:
        ws.append(list(row))
    wb.save(path)
    return path


def write_csv(path: Path, rows: Sequence[Sequence[object]], encoding: str = "utf-8") -> Path:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


HEADER = ["题名", "title@en", "日期", "责任者", "文件"]


def good_rows(n: int = 3) -> list[list[object]]:
    return [HEADER] + [[f"教学档案{i}", f"Teaching record {i}", f"2026-03-{i + 1:02d}",
                        "李明" if i % 2 else TEACHER, f"r{i}.pdf"] for i in range(1, n + 1)]


def make_bag(folder: Path, rows: Sequence[Sequence[object]], files: Sequence[str]) -> Path:
    """A BagIt bag: data/items.csv and the files, with its manifests (sha256)."""
    folder.mkdir(parents=True)
    write_csv(folder / "items.csv", rows)
    write_files(folder, files)
    bagit.make_bag(str(folder), checksums=["sha256"])
    return folder


def zip_folder(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w") as z:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                z.write(p, p.relative_to(folder.parent).as_posix())
    return target


def receiving_files(store: FilingStore) -> list[Path]:
    return sorted(p for p in store.receiving.rglob("*") if p.is_file())
