"""Date filters: bounds are checked, and articles are kept by their date."""

from __future__ import annotations

import pytest

from qa.dates import DateRange, parse_bound
from qa.errors import DateError


@pytest.mark.parametrize("text", ["2019", "2019-07", "2019-07-12", " 2020-02-29 "])
def test_a_year_a_month_or_a_day_is_a_bound(text):
    assert parse_bound(text, "--since") == text.strip()


@pytest.mark.parametrize("text", ["19", "2019-13", "2019-02-30", "2019/07", "last year", ""])
def test_a_malformed_bound_is_a_date_error_naming_the_option(text):
    with pytest.raises(DateError, match=r"^--until takes a year, a year-month or a date"):
        parse_bound(text, "--until")


def test_articles_are_kept_by_their_date():
    since = DateRange(since="2019")
    assert since.contains("2019-01-01") and since.contains("2020") and since.contains("2022/02/24")
    assert not since.contains("2018-12-31") and not since.contains("")  # undated: can't be shown to be in range
    window = DateRange(since="2016-07", until="2017")
    assert window.contains("2016-07-21") and window.contains("2017-12-31") and window.contains("2016")
    assert not window.contains("2016-06-30") and not window.contains("2018-01-01")
    assert DateRange().contains("") and not DateRange().active
    assert window.describe() == "2016-07 to 2017" and since.describe() == "since 2019"


def test_an_articles_day_is_the_real_date_it_starts_with():
    from qa.dates import day_of

    assert day_of("2022/07/08 10:00") == "2022-07-08"
    assert day_of("2016-07") == "2016-07" and day_of("2016") == "2016"
    assert day_of("2016-13-45") == "2016" and day_of("2016-02-30") == "2016-02"  # no such month, no such day
    assert day_of("July 2016") == day_of("") == ""
