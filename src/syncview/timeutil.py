"""Times as operators type and read them: "7d", "yesterday", "2026-11-01", "3 min ago"."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

_RELATIVE = re.compile(r"^(\d+)\s*(m|min|h|d|w)$")
_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def now_utc() -> datetime:
    """The current time, aware. The one clock that ages and time ranges read (tests freeze it)."""
    return datetime.now(UTC)


def local_midnight(day: date) -> datetime:
    """Start of a local calendar day, as an aware datetime."""
    return datetime.combine(day, time.min).astimezone()


def parse_when(text: str, *, now: datetime | None = None) -> datetime:
    """Parse a point in time: ISO date or datetime (local time unless it has an offset),
    ``today``, ``yesterday``, ``now``, or an age such as ``30m``, ``24h``, ``7d``, ``2w``.

    Raises ValueError naming what is accepted.
    """
    now = now or now_utc()
    key = text.strip().lower()
    if key == "now":
        return now
    if key == "today":
        return local_midnight(now.astimezone().date())
    if key == "yesterday":
        return local_midnight(now.astimezone().date() - timedelta(days=1))
    match = _RELATIVE.match(key)
    if match:
        try:
            return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        except OverflowError:  # "99999999d" reaches before year 1
            raise ValueError(f"{text!r} reaches further back than a calendar can; use a smaller age") from None
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"cannot read {text!r} as a time; use a date (2026-11-01), a date and time "
            f"(2026-11-01T09:30), today, yesterday, or an age such as 24h or 7d"
        ) from None
    if parsed.tzinfo:
        return parsed
    try:
        return parsed.astimezone()  # a time without offset is the operator's local time
    except OverflowError:  # 0001-01-01 in a zone east of UTC
        raise ValueError(f"{text!r} is out of range; use a date after year 1") from None


def ago(moment: datetime | None, *, now: datetime | None = None) -> str:
    """A short relative age: "just now", "3 min ago", "5 h ago", "12 days ago"."""
    if moment is None:
        return "never"
    seconds = int(((now or now_utc()) - moment).total_seconds())
    if seconds < 0:
        return "in the future"
    if seconds < 45:
        return "just now"
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min ago"
    if seconds < 86_400:
        return f"{round(seconds / 3600)} h ago"
    days = round(seconds / 86_400)
    return "1 day ago" if days == 1 else f"{days} days ago"


def local(moment: datetime | None) -> str:
    """A time in the operator's local zone, to the minute."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M") if moment else "—"
