"""The table's page window: what to fetch for a view, what to keep."""

from __future__ import annotations

from syncview.tui.page_cache import PageCache


def test_the_view_comes_first_then_below_above_and_the_ends():
    cache: PageCache[int] = PageCache(page_size=100)
    assert cache.wanted(1000, 1038, total=100_000) == [10, 11, 12, 9, 0, 999]
    # Pending pages are not asked for twice.
    assert cache.wanted(1000, 1038, total=100_000) == []


def test_a_view_straddling_pages_at_the_end_wants_both():
    cache: PageCache[int] = PageCache(page_size=100)
    assert cache.wanted(0, 38, total=10_020) == [0, 1, 2, 99, 100]


def test_without_a_total_or_when_asked_not_to_no_ends():
    assert PageCache(page_size=100).wanted(1000, 1038, total=None) == [10, 11, 12, 9]
    assert PageCache(page_size=100).wanted(1000, 1038, total=100_000, ends=False) == [10, 11, 12, 9]
    assert PageCache(page_size=100).wanted(0, 38, total=0) == []


def test_pages_beyond_the_total_are_not_wanted():
    assert PageCache(page_size=100).wanted(0, 38, total=150) == [0, 1]


def test_the_least_recently_used_page_is_evicted_but_never_an_end():
    cache: PageCache[int] = PageCache(page_size=10, max_pages=4)
    for page in cache.wanted(0, 5, total=1000, before=0, after=0):  # pages 0 and 99
        cache.put(page, list(range(page * 10, page * 10 + 10)))
    for page in range(40, 45):
        cache.put(page, list(range(page * 10, page * 10 + 10)))
    assert cache.get(5) == 5 and cache.get(995) == 995
    assert cache.get(405) is None and cache.get(445) == 445
    assert len(cache) == 4


def test_a_failed_fetch_may_be_asked_again_and_replace_edits_a_loaded_row():
    cache: PageCache[str] = PageCache(page_size=10)
    assert cache.wanted(0, 5, total=None, after=0, before=0) == [0]
    cache.failed(0)
    assert cache.wanted(0, 5, total=None, after=0, before=0) == [0]
    cache.put(0, [str(i) for i in range(10)])
    cache.replace(3, "three")
    assert cache.get(3) == "three"
    cache.clear()
    assert cache.get(3) is None and len(cache) == 0
