import pytest

from qa.clean import clean_text, decode_bytes, drop_boilerplate, fix_mojibake, strip_controls
from qa.errors import CorpusError


def test_lost_left_quote_is_repaired_to_curly_pair():
    assert fix_mojibake("an overall rating of '˜inadequate' by NHS England.") == "an overall rating of ‘inadequate’ by NHS England."


def test_classic_mojibake_is_repaired_but_curly_quotes_stay_curly():
    assert fix_mojibake("the CCGâ€™s chief officer") == "the CCG’s chief officer"
    assert fix_mojibake("“quoted” and ‘single’") == "“quoted” and ‘single’"


@pytest.mark.parametrize("line", ["Hide Ad", "Ads by Google", "Stock image.", "Stock image.Stock image.", "advertisement"])
def test_advert_lines_are_dropped(line):
    assert clean_text(f"First paragraph.\n{line}\n\nSecond paragraph.") == "First paragraph.\n\nSecond paragraph."


def test_banner_repeated_back_to_back_is_dropped_entirely():
    text = "Intro sentence.\nNews from the Telegraph - site.co.ukNews from the Telegraph - site.co.uk\nNews from the Telegraph - site.co.uk\n\nBody."
    assert clean_text(text) == "Intro sentence.\n\nBody."


def test_repeated_line_keeps_one_copy():
    assert clean_text("Headline here\n\nHeadline here\n\nBody text.") == "Headline here\n\nBody text."


def test_whitespace_is_normalised():
    assert clean_text("  One\u00a0 two\t three.  \r\n\r\n\r\n\r\nFour.  ") == "One two three.\n\nFour."


def test_terminal_escapes_and_controls_are_stripped():
    assert strip_controls("red \x1b[31mtext\x1b[0m and \x1b]8;;http://x\x07link\x1b]8;;\x07 bell\x07") == "red text and link bell"


def test_cp1252_bytes_decode():
    data = "The CCG’s £28m – “deficit”".encode("cp1252")
    assert decode_bytes(data).text == "The CCG’s £28m – “deficit”"


def test_utf16_with_bom_decodes():
    data = "Ratings for CCGs: ‘good’.".encode("utf-16")
    assert decode_bytes(data).text == "Ratings for CCGs: ‘good’."


@pytest.mark.parametrize("data", [b"", b"   \n\t ", bytes(range(256)) * 20, b"\x00\x01\x02\x03PK\x03\x04" * 100])
def test_empty_and_binary_data_is_refused(data):
    with pytest.raises(CorpusError):
        decode_bytes(data, "x.txt")


def test_drop_boilerplate_keeps_paragraph_breaks():
    assert drop_boilerplate(["a.", "", "Hide Ad", "", "b."]) == ["a.", "", "b."]
