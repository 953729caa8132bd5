"""The merge rules as pure functions (records/merge.py): examples from docs/sync-protocol.md and properties."""

from hypothesis import given
from hypothesis import strategies as st

from records import merge

POLICIES = {"water": merge.COUNTS, "needs": merge.SET, "notes": merge.TEXT, "disposition": merge.SCALAR}


def test_the_worked_example_of_the_protocol_page():
    base = {"needs": ["housing"], "supplies": {"water": 2}, "disposition": "", "notes": "Man at bus stop."}
    after_b = {
        "needs": ["housing", "medical"],
        "supplies": {"water": 5},
        "disposition": "referred",
        "notes": base["notes"],
    }
    a = {
        "needs": ["basic_needs"],
        "supplies": {"water": 3, "food": 1},
        "disposition": "transported",
        "notes": "Man at bus stop. Gave a ride to Highland.",
    }
    policies = {"needs": merge.SET, "supplies": merge.COUNTS, "disposition": merge.SCALAR, "notes": merge.TEXT}
    out = merge.merge_record(policies, {}, base, after_b, a)
    assert out.values["needs"] == ["medical", "basic_needs"]
    assert out.values["supplies"] == {"food": 1, "water": 6}
    assert out.values["notes"] == a["notes"] and "notes" not in out.merged  # B left the notes: A's text as sent
    assert [c.name for c in out.conflicts] == ["disposition"] and out.status == merge.CONFLICT


def test_a_chain_of_own_edits_is_the_base_not_a_rival():
    pulled = {"supplies": {"water": 2}, "disposition": "referred", "needs": ["housing"]}
    first = {"supplies": {"water": 3}, "disposition": "transported", "needs": []}
    second = {"supplies": {"water": 4}, "disposition": "referred", "needs": ["housing"]}
    base = merge.effective_base(pulled, [first])
    out = merge.merge_record(
        {"supplies": merge.COUNTS, "disposition": merge.SCALAR, "needs": merge.SET}, {}, base, first, second
    )
    assert out.values == second and out.status == merge.APPLIED


def test_identical_increments_add_up():
    assert merge.merge_field(merge.COUNTS, {}, {"water": 1}, {"water": 2}, {"water": 2}) == ({"water": 3}, False)


def test_nothing_to_change_is_unchanged_not_applied():
    out = merge.merge_record(POLICIES, {}, None, {"disposition": "referred"}, {"disposition": "referred"})
    assert out.values == {} and out.status == merge.UNCHANGED


def test_a_field_the_device_did_not_change_keeps_the_newer_value():
    out = merge.merge_record(POLICIES, {}, {"disposition": "a"}, {"disposition": "b"}, {"disposition": "a"})
    assert out.values == {} and out.merged == ["disposition"] and out.status == merge.MERGED


def test_status_moves_by_the_state_machine():
    transitions = {"open": {"in_mediation"}, "in_mediation": {"resolved"}}
    assert merge.merge_field(merge.STATUS, transitions, "open", "in_mediation", "resolved") == ("resolved", False)
    assert merge.merge_field(merge.STATUS, transitions, "open", "in_mediation", "closed") == ("in_mediation", True)


def test_sets_honour_removals_on_both_sides():
    # The server removed housing since the base, the device added medical: housing stays removed.
    assert merge.merge_items(["housing", "food"], ["food"], ["housing", "food", "medical"]) == ["food", "medical"]


def test_text_keeps_both_edits_and_the_shared_text_once():
    merged = merge.merge_text("Man at bus stop.", "Man at bus stop. Gave water.", "Man at bus stop. Called family.")
    assert merged.count("Man at bus stop.") == 1 and "Gave water." in merged and "Called family." in merged
    assert merge.MERGE_SEPARATOR in merged  # both added at the same place: kept side by side, marked
    # Edits of different sentences merge with no mark.
    merged = merge.merge_text("One. Two. Three.", "One! Two. Three.", "One. Two. Three?")
    assert merged == "One! Two. Three?"


texts = st.text(alphabet="ab .!?\n", max_size=30)


@given(texts)
def test_sentences_give_the_text_back(text):
    assert "".join(merge.sentences(text)) == text


@given(texts, texts)
def test_text_merge_with_one_side_unchanged_is_the_other_side(base, other):
    assert merge.merge_text(base, base, other) == other
    assert merge.merge_text(base, other, base) == other


counts = st.dictionaries(st.sampled_from(["water", "food", "hygiene_kit"]), st.integers(0, 20), max_size=3)


@given(counts, st.lists(counts, min_size=1, max_size=4))
def test_counts_add_every_sides_increment(base, sides):
    """Each side raised counts from the same base; merging them in turn gives base + every increment."""
    increments = [{k: max(0, v - base.get(k, 0)) for k, v in side.items()} for side in sides]
    raised = [{**base, **{k: base.get(k, 0) + n for k, n in inc.items()}} for inc in increments]
    current = raised[0]
    for mine in raised[1:]:
        current, conflict = merge.merge_field(merge.COUNTS, {}, base, current, mine)
        assert not conflict
    expected = dict(base)
    for inc in increments:
        for k, n in inc.items():
            expected[k] = expected.get(k, 0) + n
    assert {k: v for k, v in current.items() if v} == {k: v for k, v in expected.items() if v}


items = st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), unique=True, max_size=5)


@given(items, items, items)
def test_sets_merge_as_additions_and_removals(base, theirs, mine):
    result = merge.merge_items(base, theirs, mine)
    expected = (set(theirs) - (set(base) - set(mine))) | (set(mine) - set(base))
    assert set(result) == expected and len(result) == len(set(result))


def test_text_merged_again_keeps_the_stored_white_space_and_each_sentence_once():
    """A reviewer's sequence: the passage after a merge marker was rewritten with a space on the next merge, so a
    third merge treated it as changed on both sides and repeated it."""
    v3 = merge.merge_text("A1.", "A1. Y1.", "A1. X1.")
    v4 = merge.merge_text("A1. X1.", v3, "A1. X1. X2.")
    assert v4 == v3 + " X2."
    v5 = merge.merge_text(v3, v4, v3 + " Y2.")
    for sentence in ("A1.", "Y1.", "X1.", "X2.", "Y2."):
        assert v5.count(sentence) == 1, v5
    assert v5.count(merge.MERGE_SEPARATOR) == 2
