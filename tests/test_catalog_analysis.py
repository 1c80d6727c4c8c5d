"""The catalog's text analysis, query language and snippets, without a site (fast)."""

from __future__ import annotations

from repo.catalog.analysis import code_key, code_levels, index_tokens, normalize, normalize_map
from repo.catalog.query import parse
from repo.catalog.snippets import best_snippet, matches, snippet


def test_chinese_runs_become_overlapping_bigrams_then_single_characters():
    assert index_tokens("交通大学西迁") == "交通 通大 大学 学西 西迁 交 通 大 学 西 迁"
    assert index_tokens("校") == "校"


def test_traditional_becomes_simplified_and_full_width_becomes_ascii():
    assert normalize("檔案館") == "档案馆"
    assert normalize("ＸＳ　１９５７") == "xs 1957"
    assert index_tokens("檔案") == index_tokens("档案")


def test_english_words_are_stemmed_and_folded():
    assert index_tokens("Letters") == index_tokens("letter") == "letter"
    assert index_tokens("Université") == "universit"


def test_reference_codes_are_one_token_whatever_the_separator():
    key = "0421xs1957y0012"
    assert code_key("0421-XS·1957-Y-0012") == key
    assert code_key("0421-xs.1957-y-0012") == key
    assert code_key("０４２１－ＸＳ・１９５７－Ｙ－００１２") == key
    assert index_tokens("见0421-XS·1957-Y-0012号") == f"见 {key} 号"
    assert code_levels("0421-XS·1957-Y-0012-003") == [
        "0421", "0421xs", "0421xs1957", "0421xs1957y", "0421xs1957y0012", "0421xs1957y0012003"]
    # not codes: ordinary hyphenated words, unknown categories
    assert code_key("this-is") is None
    assert index_tokens("well-known") == "well known"


def test_japanese_is_found_by_bigrams():
    assert "歴史" in index_tokens("東京大学の歴史").split()
    assert "の歴" in index_tokens("東京大学の歴史").split()


def test_offset_map_survives_length_changes():
    text = "ﬁle 檔案"  # the ligature ﬁ becomes two letters
    norm, offsets = normalize_map(text)
    assert norm == "file 档案"
    assert [text[offsets[i]] for i in range(len(norm))][-2:] == ["檔", "案"]


def test_query_language():
    pq = parse('西迁 "westward move" -照片 title:校史 reloc* 0421-XS·1957-Y-0012')
    kinds = [(u.kind, u.tokens, u.fields[:1]) for g in pq.groups for u in g]
    assert ("term", ("西迁",), ("title",)) in kinds
    assert ("phrase", ("westward", "move"), ("title",)) in kinds
    assert ("term", ("校史",), ("title",)) in kinds
    assert ("prefix", ("reloc",), ("title",)) in kinds
    assert ("term", ("0421xs1957y0012",), ("refcode",)) in kinds
    assert [u.tokens for u in pq.excluded] == [("照片",)]
    assert parse("0421-XS·1957").groups[0][0].fields == ("refpath",)  # partial: all below
    assert parse("交通大学").groups[0][0].tokens == ("交通", "通大", "大学")
    assert len(parse("档案 OR 檔案").groups) == 1
    assert [g[0].tokens for g in parse("letters of the university").groups] == [
        ("letter",), ("universiti",)]
    assert parse("").empty and parse("   ").empty


def test_snippets_mark_matches_in_the_original_text_and_escape_html():
    pq = parse("檔案 letter")
    html, n = snippet("<b>档案</b> & Letters", pq.highlight)
    assert html == "&lt;b&gt;<mark>档案</mark>&lt;/b&gt; &amp; <mark>Letters</mark>"
    assert n == 2
    text = "甲" * 200 + "西迁" + "乙" * 200
    html, n = snippet(text, parse("西迁").highlight, width=60)
    assert n == 1 and "<mark>西迁</mark>" in html and html.startswith("…") and html.endswith("…")
    assert len(html) < 100
    assert matches("0421-XS·1957-Y-0012", parse("0421-xs.1957-y-0012").highlight) == [(0, 19)]
    field, html = best_snippet([("scope", "无关"), ("note", "关于西迁"), ("extra", "西迁西迁")],
                               parse("西迁").highlight)
    assert field == "note" and html == "关于<mark>西迁</mark>"


def test_the_fast_token_stream_is_the_runs_tokens():
    from repo.catalog.analysis import runs

    for text in ("交通大学1957年西迁 letters of 0421-XS·1957-Y-0012号", "ab-cd 0421-XZ",
                 "東京大学の歴史・ロシア", "校", "Zürich, 1957", ""):
        found = runs(normalize(text))
        stream = [t for r in found for t in r.tokens]
        stream += [c for r in found if r.kind == "cjk" and len(r.text) > 1 for c in r.text]
        assert index_tokens(text) == " ".join(stream), text
