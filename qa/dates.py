"""Date filters: `--since` and `--until` take a year, a year-month or a date, and articles are kept by their date."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from qa.errors import DateError

_BOUND = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


def parse_bound(text: str, flag: str) -> str:
    """A validated bound ("2019", "2019-07", "2019-07-12"); DateError naming the flag otherwise."""
    m = _BOUND.fullmatch(text.strip())
    try:
        if not m:
            raise ValueError
        year, month, day = int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)
        datetime.date(year, month, day)
    except ValueError:
        raise DateError(f"{flag} takes a year, a year-month or a date (2019, 2019-07, 2019-07-12), not {text!r}") from None
    return m.group(0)


def day_of(date: str) -> str:
    """The real year, year-month or date an article's date starts with ("2022/07/08 10:00" -> "2022-07-08",
    "2016-13-45" -> "2016"), or ""."""
    m = _BOUND.match(date.replace("/", "-"))
    for text in (m.group(0), m.group(0)[:7], m.group(0)[:4]) if m else ():
        try:
            return parse_bound(text, "")
        except DateError:
            continue
    return ""


def parse_day(text: str, flag: str) -> str:
    """A validated day ("2022-07-08"); DateError naming the flag otherwise."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return datetime.date.fromisoformat(text).isoformat()
        except ValueError:
            pass
    raise DateError(f"{flag} takes a date (2022-07-08), not {text!r}")


@dataclass(frozen=True)
class DateRange:
    """Articles dated from `since` to `until` (inclusive, each a year, year-month or date prefix), or any."""

    since: str | None = None
    until: str | None = None

    @property
    def active(self) -> bool:
        """Whether it filters anything."""
        return bool(self.since or self.until)

    def contains(self, date: str) -> bool:
        """Whether an article of this date ("2016-07-21", "2017", "" when unknown) is in the range."""
        if not self.active:
            return True
        date = date.replace("/", "-")
        if not _BOUND.match(date):
            return False  # undated: it can't be shown to be in the range
        # compared at the coarser of the two precisions: an article dated only "2016" may be from July
        if self.since and date[: len(self.since)] < self.since[: len(date)]:
            return False
        return not (self.until and date[: len(self.until)] > self.until[: len(date)])

    def describe(self) -> str:
        """"since 2019", "until 2018-06", "2016 to 2018"."""
        if self.since and self.until:
            return f"{self.since} to {self.until}"
        return f"since {self.since}" if self.since else f"until {self.until}"
