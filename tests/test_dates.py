"""repo.dates: dates as archivists write them, normalised (for the forms, CLI and importers)."""

from __future__ import annotations

import pytest

from repo.dates import parse, parse_or_none
from repo.errors import Invalid


@pytest.mark.parametrize("written, begin, end", [
    ("1957", "1957", "1957"),
    ("1957-09", "1957-09", "1957-09"),
    ("1957-09-01", "1957-09-01", "1957-09-01"),
    ("1957.9", "1957-09", "1957-09"),
    ("1956/1958", "1956", "1958"),
    ("1956-1958", "1956", "1958"),
    ("1956—1958年", "1956", "1958"),
    ("1956-08/1957-06", "1956-08", "1957-06"),
    ("1956年", "1956", "1956"),
    ("1956年8月", "1956-08", "1956-08"),
    ("1956年8月1日", "1956-08-01", "1956-08-01"),
    ("一九五六年八月", "1956-08", "1956-08"),
    ("一九五六年十二月二十一日", "1956-12-21", "1956-12-21"),
    ("1956年8月至1957年6月", "1956-08", "1957-06"),
    ("1956年8月至12月", "1956-08", "1956-12"),
    ("1950年代", "1950", "1959"),
    ("二十世纪50年代", "1950", "1959"),
    ("1950年代—1960年代", "1950", "1969"),
])
def test_forms_archivists_write(written, begin, end):
    d = parse(written)
    assert (d.written, d.begin, d.end) == (written, begin, end)
    assert not d.approximate and not d.uncertain


@pytest.mark.parametrize("written, year", [("约1950", "1950"), ("ca. 1950", "1950"),
                                           ("1950年左右", "1950"), ("大约1956年8月", "1956-08")])
def test_approximate(written, year):
    d = parse(written)
    assert d.approximate and d.begin == d.end == year


def test_uncertain_and_whitespace():
    d = parse("  1950？ ")
    assert d.uncertain and d.begin == "1950" and d.written == "1950？"


@pytest.mark.parametrize("text", ["", "  ", "民国时期", "1957-13", "1956年8月32日", "1958/1956",
                                  "十二月", "19567", "1950年代x", "x" * 101, "1956//1958"])
def test_what_cannot_be_read_is_invalid_never_a_guess(text):
    with pytest.raises(Invalid):
        parse(text)
    assert parse_or_none(text) is None


def test_assignments_carry_the_text_and_the_normalised_dates():
    assert [(a.field, a.value) for a in parse("1956年8月").assignments()] == [
        ("date", "1956年8月"), ("begin", "1956-08"), ("end", "1956-08")]


def test_the_command_line_reads_dates_and_asks_for_reference_codes(site):
    """``lantai add/edit --date`` and ``lantai refcode`` use the same reading as the forms."""
    from click.testing import CliRunner
    from support import SERIES

    from repo.cli import main
    from repo.repository import Repository

    site.close()
    runner = CliRunner()

    def lantai(*args: str):
        return runner.invoke(main, ["--home", str(site.home), "--user", "editor", *args],
                             prog_name="lantai")
    asked = lantai("refcode", SERIES, "--type", "file", "--date", "1958年9月")
    assert asked.exit_code == 0 and "0421-XS·1958-Y-0001" in asked.output
    made = lantai("add", SERIES, "file", "--name", "f1958", "--set", "title@zh=新生",
                  "--set", "title@en=New", "--date", "1958年9月")
    assert made.exit_code == 0, made.output
    taken = lantai("refcode", SERIES, "--type", "file", "--set", "refcode=0421-XS·1958-Y-0001")
    assert taken.exit_code == 6 and "already used" in taken.output
    bad = lantai("add", SERIES, "file", "--set", "title@zh=新生", "--date", "民国时期")
    assert bad.exit_code == 5 and "not a date this archive reads" in bad.output
    with Repository.open(site.home) as repo:
        obj = repo.get(repo.user("admin"), f"{SERIES}/f1958")
        fields = obj.fields(repo.base)
    assert (fields["date"], fields["begin"], fields["end"]) == (["1958年9月"], ["1958-09"],
                                                                ["1958-09"])
    edited = lantai("edit", f"{SERIES}/f1958", "--date", "约1959")
    assert edited.exit_code == 0, edited.output
