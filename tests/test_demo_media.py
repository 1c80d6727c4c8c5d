"""The demo media are committed; the script that made them is a development tool.

``scripts/make_demo_media.py`` (fonts, espeak-ng, ffmpeg) is not part of the installed
package; ``lantai demo`` reads the committed files, which must be what ``MANIFEST.json``
says the script wrote, and the script must write to the folder the package reads.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import runpy

from support import PROJECT

from repo import demo

MEDIA = PROJECT / "repo" / "demo" / "media"


def test_the_generator_is_not_in_the_package():
    assert importlib.util.find_spec("repo.demo.make_media") is None
    modules = sorted(p.name for p in (PROJECT / "repo" / "demo").glob("*.py"))
    assert modules == ["__init__.py"]


def test_the_script_writes_where_the_demo_reads():
    script = runpy.run_path(str(PROJECT / "scripts" / "make_demo_media.py"))  # no __main__
    assert script["OUT_DIR"] == MEDIA
    assert (MEDIA / "README.md").read_text(encoding="utf-8") == script["README_TEXT"]
    assert MEDIA.resolve() == (PROJECT / demo.__name__.replace(".", "/") / "media").resolve()


def test_the_committed_media_are_the_manifest():
    listed = json.loads((MEDIA / "MANIFEST.json").read_text(encoding="utf-8"))
    assert len(listed) > 10
    for entry in listed:
        data = (MEDIA / entry["file"]).read_bytes()
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (entry["sha256"],
                                                                 entry["bytes"]), entry["file"]
