"""Times as operators type them and read them back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from syncview.timeutil import ago, local, local_midnight, parse_when

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "delta"), [
    ("30m", timedelta(minutes=30)),
    ("30min", timedelta(minutes=30)),
    ("24h", timedelta(hours=24)),
    ("7d", timedelta(days=7)),
    ("7 d", timedelta(days=7)),
    ("2W", timedelta(weeks=2)),
])
def test_ages_count_back_from_now(text, delta):
    assert parse_when(text, now=NOW) == NOW - delta


def test_named_days_are_local_midnights():
    today = NOW.astimezone().date()
    assert parse_when("now", now=NOW) == NOW
    assert parse_when("Today", now=NOW) == local_midnight(today)
    assert parse_when("yesterday", now=NOW) == local_midnight(today - timedelta(days=1))
    assert parse_when("today", now=NOW).tzinfo is not None


def test_iso_dates_and_times_are_local_unless_they_carry_an_offset():
    assert parse_when("2026-11-01") == datetime(2026, 11, 1).astimezone()
    assert parse_when("2026-11-01T09:30") == datetime(2026, 11, 1, 9, 30).astimezone()
    assert parse_when("2026-11-01T09:30+02:00") == datetime(2026, 11, 1, 7, 30, tzinfo=UTC)


@pytest.mark.parametrize("text", ["last tuesday", "7 days", "", "2026-13-01", "-3d"])
def test_unreadable_times_say_what_is_accepted(text):
    with pytest.raises(ValueError, match="use a date"):
        parse_when(text, now=NOW)


def test_an_age_beyond_the_calendar_is_a_clear_error():
    with pytest.raises(ValueError, match="smaller age"):
        parse_when("99999999d", now=NOW)


@pytest.mark.parametrize(("seconds", "expected"), [
    (0, "just now"),
    (44, "just now"),
    (50, "1 min ago"),
    (3 * 60, "3 min ago"),
    (5 * 3600, "5 h ago"),
    (30 * 3600, "1 day ago"),
    (12 * 86_400, "12 days ago"),
    (-60, "in the future"),
])
def test_ago(seconds, expected):
    assert ago(NOW - timedelta(seconds=seconds), now=NOW) == expected


def test_ago_and_local_of_nothing():
    assert ago(None) == "never"
    assert local(None) == "—"


def test_local_is_to_the_minute_in_the_local_zone():
    assert local(NOW) == NOW.astimezone().strftime("%Y-%m-%d %H:%M")
