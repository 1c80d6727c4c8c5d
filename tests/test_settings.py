"""``lantai.toml``: written by a TOML library and checked when read.

A site name with a ``"`` once made the site unopenable (settings were written by string
formatting); a hand-edited file with a wrong type failed deep inside a request. Now any text
reads back as written, and a wrong key or value stops ``lantai`` with one line naming the
file and the key (exit 5).
"""

from __future__ import annotations

import dataclasses

import pytest
import rdflib
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from support import run_lantai, served

from repo.config import CONFIG_FILE, Settings, make_settings, read_settings, write_settings
from repo.errors import Invalid

HOSTILE = [
    'The "Archive"',
    "back\\slash \\u0041 \\n",
    "two\nlines\r\nand a\ttab",
    "]] [[tables]] [x]",
    "'''\"\"\" # not a comment",
    "兰台档案馆 · 西安交通大学 🏛️ \u2028",
    "key = \"value\"\nbase = \"https://evil.example\"",
]

# Text TOML and XML can carry: no control characters but tab, newline and carriage return
NAMES = st.text(st.characters(blacklist_categories=("Cs",),
                              blacklist_characters="".join(
                                  chr(c) for c in [*range(0, 9), 11, 12, *range(14, 32), 127])),
                min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(zh=NAMES, en=NAMES)
def test_any_site_name_reads_back(tmp_path_factory, zh, en):
    home = tmp_path_factory.mktemp("home")
    written = make_settings(base="https://archive.example.edu", site_name_zh=zh, site_name_en=en)
    write_settings(home, written)
    assert read_settings(home) == written


@pytest.mark.parametrize("name", HOSTILE)
def test_a_site_with_a_hostile_name_opens_and_serves_it(site, name):
    site.repo.close()
    write_settings(site.home, dataclasses.replace(read_settings(site.home), site_name_en=name,
                                                  site_name_zh=name + " 中"))
    assert read_settings(site.home).base == "https://archive.example.edu"
    run_lantai(site.home, "tree", "/xjtu", "--depth", "0")
    with served(site.home) as url:
        void = requests.get(f"{url}/.well-known/void", headers={"Accept": "text/turtle"},
                            timeout=30)
        assert void.status_code == 200
        graph = rdflib.Graph().parse(data=void.text, format="turtle")
        titles = {str(o) for o in graph.objects(predicate=rdflib.DCTERMS.title)}
        assert name in titles and name + " 中" in titles
        home = requests.get(url + "/", headers={"Accept-Language": "en"}, timeout=30)
        assert home.status_code == 200


BAD = [
    ("sparql_timeout", '"10"', "sparql_timeout"),
    ("sparql_timeout", "-1.0", "sparql_timeout"),
    ("embargo_years", "true", "embargo_years"),
    ("sparql_workers", "0", "sparql_workers"),
    ("api_require_if_match", '"yes"', "api_require_if_match"),
    ("rate_limit_exempt", '"localhost"', "rate_limit_exempt"),
    ("iiif_rights", '"all rights reserved"', "iiif_rights"),
    ("site_name_en", '""', "site_name_en"),
    ("site_name_en", '"a\\u0000b"', "site_name_en"),
    ("base", '"ftp://archive.example.edu"', "base"),
    ("no_such_setting", "1", "no_such_setting"),
    ("image_max_area", "[1, 2]", "image_max_area"),
]


@pytest.mark.subprocess
@pytest.mark.parametrize(("key", "toml_value", "named"), BAD, ids=[f"{k}={v}" for k, v, _ in BAD])
def test_a_wrong_value_is_one_line_naming_file_and_key(site, key, toml_value, named):
    site.repo.close()
    path = site.home / CONFIG_FILE
    lines = [line for line in path.read_text(encoding="utf-8").splitlines()
             if not line.startswith(f"{key} =")]
    path.write_text("\n".join([*lines, f"{key} = {toml_value}"]) + "\n", encoding="utf-8")
    with pytest.raises(Invalid):
        read_settings(site.home)
    proc = run_lantai(site.home, "tree", check=False)
    assert proc.returncode == 5, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("lantai: error: ") and str(path) in proc.stderr
    assert f": {named}:" in proc.stderr


@pytest.mark.subprocess
def test_a_file_that_is_not_toml_is_one_line(site):
    site.repo.close()
    (site.home / CONFIG_FILE).write_text('base = "https://archive.example.edu\n')
    proc = run_lantai(site.home, "tree", check=False)
    assert proc.returncode == 5 and proc.stderr.count("\n") == 1, proc.stderr
    assert "not valid TOML" in proc.stderr and "line 1" in proc.stderr


def test_settings_made_in_code_are_checked_too():
    with pytest.raises(Invalid, match="sparql_max_rows"):
        make_settings(base="https://archive.example.edu", sparql_max_rows=0)
    assert Settings(base="https://archive.example.edu/").base == "https://archive.example.edu"


@pytest.mark.subprocess
def test_init_refuses_a_negative_embargo(tmp_path):
    proc = run_lantai(tmp_path / "site", "init", "--base", "https://archive.example.edu",
                      "--embargo-years", "-1", check=False)
    assert proc.returncode == 2 and "embargo-years" in proc.stderr
    assert not (tmp_path / "site" / CONFIG_FILE).exists()
