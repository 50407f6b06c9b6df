"""Suggested matches and the bulk re-match review, driven by keys: only the unambiguous rows are
ticked, each row says why, the list is sorted by score, and the keys do what they say."""

from __future__ import annotations

from textual.app import App
from textual.widgets import Button, DataTable

from syncview.domain import ResourceType
from syncview.services import proposals, queries
from syncview.services.proposals import Proposal
from syncview.tui.screens.overview import OverviewScreen
from syncview.tui.screens.proposals import ProposalsScreen
from tests.helpers import rows
from tests.tui.conftest import settle


def _cw(store) -> int:
    return queries.get_integration(store, "ConnectWise Manage").id


def _cells(table: DataTable, index: int) -> list[str]:
    return [str(cell) for cell in table.get_row_at(index)]


def _column(table: DataTable, key: str) -> int:
    return list(table.columns).index(key)


async def test_suggested_view_ticks_only_the_preselected_rows_and_says_why(app, demo_store):
    expected = proposals.suggestions(demo_store, _cw(demo_store))
    preselected = [p for p in expected if p.preselected]
    assert preselected and len(preselected) < len(expected)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ProposalsScreen)
        table = screen.query_one(DataTable)
        keep, score, why = (_column(table, key) for key in ("keep", "score", "why"))
        shown = [_cells(table, i) for i in range(table.row_count)]
        assert [row[score] for row in shown] == [f"{p.score:.0f}" for p in expected]
        assert [row[why] for row in shown] == [p.reason for p in expected]
        assert [row[keep] for row in shown] == ["✓" if p.preselected else "·" for p in expected]
        assert f"Re-match {len(preselected)}" in str(screen.query_one("#apply", Button).label)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
    for proposal in expected:
        row = queries.get_resource(demo_store, proposal.resource_id)
        assert (row.record_id == proposal.record_id) is proposal.preselected, proposal
    assert rows(demo_store, "SELECT action, count(*) FROM audit_event WHERE operator = 'tester' GROUP BY batch") \
        == [("rematch", len(preselected))]


async def test_review_is_sorted_by_score_end_goes_to_the_last_row_and_space_stays(app, demo_store):
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"acme", "enter")
        await settle(pilot)
        await pilot.press("asterisk", "m")  # mark every row the filter selects, re-match them
        await settle(pilot)
        review = app.screen
        assert isinstance(review, ProposalsScreen)
        table = review.query_one(DataTable)
        score = _column(table, "score")
        scores = [float(_cells(table, i)[score].replace("—", "0")) for i in range(table.row_count)]
        assert table.row_count > 10 and scores == sorted(scores, reverse=True)
        await pilot.press("end")
        assert table.cursor_row == table.row_count - 1
        await pilot.press("home")
        assert table.cursor_row == 0
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        was_kept = key not in review.skipped
        await pilot.press("space")
        assert table.cursor_row == 0 and (key not in review.skipped) is not was_kept
        await pilot.press("space")
        assert table.cursor_row == 0 and (key not in review.skipped) is was_kept


async def test_the_apply_button_shows_the_whole_count():
    many = [Proposal(i, f"PC-{i}", ResourceType.DEVICE, 1, None, None, 10_000 + i, f"PC-{i}", 100.0,
                     preselected=True, reason="same name") for i in range(1, 13_755)]

    class Host(App):
        def on_mount(self) -> None:
            self.push_screen(ProposalsScreen(None, lambda: iter([(many, len(many), len(many))]),
                                             title="Suggested", suggested=True, operator="tester"))

    host = Host()
    async with host.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        button = host.screen.query_one("#apply", Button)
        painted = button.render_line(0).text
        assert "Re-match 13,754" in painted, painted
