"""The Re-match dialog says which candidates cannot be picked before Match, and refuses them
without losing the operator's search and switches (issue 16 item 7)."""

from __future__ import annotations

from textual.widgets import Input, OptionList, Switch

from syncview.domain import ResourceType
from syncview.services import matching, queries
from syncview.tui.screens.rematch import RematchDialog, describe
from tests.helpers import rows
from tests.tui.conftest import settle
from tests.tui.test_actions import _resource, _select


def _prompts(dialog: RematchDialog) -> list[str]:
    options = dialog.query_one("#candidates", OptionList)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def test_a_record_matched_to_another_resource_is_marked_and_refused_keeping_search_and_switches(
        app, demo_store):
    resource = _resource(demo_store, "GLOBEX-LT-008")
    taken = next(c for c in matching.rematch_candidates(demo_store, resource.id, search="globex-lt")
                 if c.linked_to is not None and c.linked_to[0] != resource.id)
    events = rows(demo_store, "SELECT count(*) FROM audit_event")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await _select(pilot, "GLOBEX-LT-008")
        await pilot.press("m")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, RematchDialog)
        await pilot.press(*taken.record.name.lower())
        await settle(pilot)
        await pilot.click("#all-clients")
        await settle(pilot)
        prompts = _prompts(dialog)
        index = next(i for i, text in enumerate(prompts) if text.startswith(taken.record.name + " "))
        # Said in the list, beside the name, before anything is pressed.
        assert f"already matched to {taken.linked_to[1]}" in prompts[index]
        options = dialog.query_one("#candidates", OptionList)
        await pilot.press("shift+tab", "shift+tab")  # from the switch, past "Disable previous", to the list
        assert dialog.focused is options
        options.highlighted = index
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is dialog  # still open: nothing was sent to the store
        assert dialog.query_one("#search", Input).value == taken.record.name.lower()
        assert dialog.query_one("#all-clients", Switch).value is True
        assert any("already matched to" in str(n.message) for n in app._notifications)
    after = queries.get_resource(demo_store, resource.id)
    assert (after.status, after.record_id, after.version) == (resource.status, resource.record_id, resource.version)
    assert rows(demo_store, "SELECT count(*) FROM audit_event") == events


async def test_the_list_opens_on_the_first_record_that_can_be_picked_and_marks_number_differences(app, demo_store):
    resource = _resource(demo_store, "ACME-LT-023")  # Not Synced: its company is unmatched
    found = matching.rematch_candidates(demo_store, resource.id)
    pickable = next(i for i, c in enumerate(found) if c.refusal is None)
    differing = next(c for c in found if c.number_difference)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await _select(pilot, "ACME-LT-023")
        await pilot.press("m")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, RematchDialog)
        assert dialog.query_one("#candidates", OptionList).highlighted == pickable
        line = next(text for text in _prompts(dialog) if text.startswith(differing.record.name + " "))
        assert f"differs in a number: {differing.number_difference}" in line
        await pilot.press("enter")  # Match the highlighted one
        await settle(pilot)
        assert not isinstance(app.screen, RematchDialog)
    assert queries.get_resource(demo_store, resource.id).record_id == found[pickable].record.id


def test_a_record_of_another_type_says_so():
    record = queries.RecordRow(7, ResourceType.CONTACT, 1, "Acme", "Ana Brown", False)
    candidate = matching.Candidate(record, 90.0, None, ResourceType.DEVICE)
    assert candidate.refusal == "a contact record, not a device"
    assert "a contact record, not a device" in describe(candidate).plain
    disabled = matching.Candidate(queries.RecordRow(8, ResourceType.DEVICE, 1, "Acme", "PC-01", True), 90.0, None,
                                  ResourceType.DEVICE)
    assert disabled.refusal is None and "disabled" in describe(disabled).plain
