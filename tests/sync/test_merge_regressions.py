"""The everyday offline patterns that lost or double-counted edits (issue: "Sync merge: no edit lost"), through the
real push endpoint on PostgreSQL. Each phone here follows docs/sync-protocol.md literally: base_version is the
version of its last pull, so every offline edit of a record between two pulls carries the same base; a record
created offline is edited with no base_version.
"""

import uuid

from incidents.models import Engagement, Shift
from records.models import Conflict
from sync.models import Mutation
from tests.support import mutation, pull, push

START = {
    "origin": "on_view",
    "supplies": {"water": 2},
    "disposition": "referred",
    "needs": ["housing"],
    "eligible": True,
}


def _create(api, seq=1, fields=None, type_="engagement"):
    rid = uuid.uuid4()
    r = push(api, mutation(seq, record_id=rid, type_=type_, fields=fields or START)).json()["results"][0]
    assert r["status"] == "applied", r
    return rid


def _results(response):
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_a_chain_of_offline_edits_on_one_base_keeps_every_edit_once(field):
    """Case 1: two edits of one record in one push, both on version 1: the second is not merged against the first
    as if someone else had made it (it lost disposition, needs and eligible and counted water twice)."""
    phone = field.api(field.responder)
    rid = _create(phone)
    first = {"supplies": {"water": 3}, "disposition": "transported", "needs": [], "eligible": False}
    second = {"supplies": {"water": 4}, "disposition": "referred", "needs": ["housing"], "eligible": True}
    results = _results(
        push(
            phone,
            mutation(2, "update", record_id=rid, base_version=1, fields=first),
            mutation(3, "update", record_id=rid, base_version=1, fields=second),
        )
    )
    assert [(r["status"], r["version"]) for r in results] == [("applied", 2), ("applied", 3)]
    record = Engagement.objects.get(pk=rid)
    assert (record.supplies, record.disposition, record.needs, record.eligible) == (
        {"water": 4},
        "referred",
        ["housing"],
        True,
    )
    assert not Conflict.objects.filter(record_id=rid).exists()


def test_a_chain_of_offline_edits_pushed_in_separate_pushes_is_the_same(field):
    """Case 1 again, the second edit pushed later (the phone did not pull in between: its base is still 1)."""
    phone = field.api(field.responder)
    rid = _create(phone)
    _results(push(phone, mutation(2, "update", record_id=rid, base_version=1, fields={"disposition": "transported"})))
    r = _results(push(phone, mutation(3, "update", record_id=rid, base_version=1, fields={"disposition": "referred"})))
    assert (r[0]["status"], r[0]["version"]) == ("applied", 3)
    assert Engagement.objects.get(pk=rid).disposition == "referred"
    assert not Conflict.objects.filter(record_id=rid).exists()


def test_emptying_a_set_after_adding_to_it_offline_is_applied(field):
    """Case 1: `crew: []` after an offline `crew: [a, b]` on the same base was answered applied and not applied."""
    phone = field.api(field.responder)
    rid = _create(
        phone,
        fields={"call_sign": "Van 1", "started_at": "2026-11-24T08:00:00-08:00", "crew": [field.responder.pk]},
        type_="shift",
    )
    results = _results(
        push(
            phone,
            mutation(
                2,
                "update",
                type_="shift",
                record_id=rid,
                base_version=1,
                fields={"crew": [field.responder.pk, field.partner.pk]},
            ),
            mutation(3, "update", type_="shift", record_id=rid, base_version=1, fields={"crew": []}),
        )
    )
    assert [(r["status"], r["version"]) for r in results] == [("applied", 2), ("applied", 3)]
    assert Shift.objects.get(pk=rid).crew == []


def test_an_update_without_a_base_version_is_never_a_blind_overwrite(field):
    """Case 2: the docs say to leave base_version out for records not yet acknowledged. A's edit, sent with no base
    after B changed the same field, is a conflict, exactly as with base_version 1; B's value stays."""
    a, b = field.api(field.responder), field.api(field.partner)
    rid = _create(a)
    assert (
        _results(push(b, mutation(1, "update", record_id=rid, base_version=1, fields={"disposition": "transported"})))[
            0
        ]["status"]
        == "applied"
    )
    r = _results(push(a, mutation(2, "update", record_id=rid, fields={"disposition": "declined_services"})))[0]
    assert r["status"] == "conflict"
    assert Engagement.objects.get(pk=rid).disposition == "transported"
    conflict = Conflict.objects.get(record_id=rid)
    assert (conflict.server_value, conflict.incoming_value) == ("transported", "declined_services")


def test_edits_of_a_record_created_offline_need_no_base_and_merge_with_a_colleague(field):
    """A phone creates a record offline and edits it twice before its first push (no base_version, as the docs
    say); a colleague's increment in between is added, the phone's own edits are not merged against each other."""
    a, b = field.api(field.responder), field.api(field.partner)
    rid = uuid.uuid4()
    results = _results(
        push(
            a,
            mutation(1, record_id=rid, fields=START),
            mutation(2, "update", record_id=rid, fields={"supplies": {"water": 3}, "disposition": "transported"}),
        )
    )
    assert [r["status"] for r in results] == ["applied", "applied"]
    _results(push(b, mutation(1, "update", record_id=rid, base_version=2, fields={"supplies": {"water": 4}})))
    r = _results(
        push(a, mutation(3, "update", record_id=rid, fields={"supplies": {"water": 5}, "disposition": "referred"}))
    )[0]
    assert r["status"] == "merged" and r["merged_fields"] == ["supplies"]
    record = Engagement.objects.get(pk=rid)
    # 2 at creation, +1 and +2 from A, +1 from B.
    assert record.supplies == {"water": 6} and record.disposition == "referred"


def test_identical_concurrent_increments_both_count(field):
    """Case 3: two phones each hand out one water from the same base ({"water": 1} -> {"water": 2}): 3, not 2."""
    a, b = field.api(field.responder), field.api(field.partner)
    rid = _create(a, fields={"origin": "on_view", "supplies": {"water": 1}})
    first = _results(push(a, mutation(2, "update", record_id=rid, base_version=1, fields={"supplies": {"water": 2}})))[
        0
    ]
    second = _results(push(b, mutation(1, "update", record_id=rid, base_version=1, fields={"supplies": {"water": 2}})))[
        0
    ]
    assert first["status"] == "applied"
    assert second["status"] == "merged" and second["merged_fields"] == ["supplies"]
    assert Engagement.objects.get(pk=rid).supplies == {"water": 3}
    assert not Conflict.objects.filter(record_id=rid).exists()


def test_an_edit_that_changes_nothing_is_answered_unchanged_without_a_new_version(field):
    """Case 4: `applied` means stored as sent with a new version; an edit whose values the record already holds is
    `unchanged`, with the current version."""
    a = field.api(field.responder)
    rid = _create(a)
    r = _results(push(a, mutation(2, "update", record_id=rid, base_version=1, fields={"disposition": "referred"})))[0]
    assert (r["status"], r["version"]) == ("unchanged", 1)
    assert Engagement.objects.get(pk=rid).version == 1
    assert Mutation.objects.get(pk=r["mutation_id"]).status == "unchanged"


def test_text_edited_on_two_phones_keeps_both_edits_and_the_shared_text_once(field):
    """Case 5: merged notes grew with every merge, repeating the shared text."""
    a, b = field.api(field.responder), field.api(field.partner)
    rid = _create(a, fields={"origin": "on_view", "notes": "Man at bus stop."})
    _results(
        push(a, mutation(2, "update", record_id=rid, base_version=1, fields={"notes": "Man at bus stop. Gave water."}))
    )
    r = _results(
        push(
            b,
            mutation(
                1, "update", record_id=rid, base_version=1, fields={"notes": "Man at bus stop. Called his sister."}
            ),
        )
    )[0]
    assert r["status"] == "merged"
    notes = Engagement.objects.get(pk=rid).notes
    assert notes.count("Man at bus stop.") == 1
    assert "Gave water." in notes and "Called his sister." in notes
    # Another round on the merged text, both phones again: nothing repeats.
    version = Engagement.objects.get(pk=rid).version
    _results(
        push(a, mutation(3, "update", record_id=rid, base_version=version, fields={"notes": notes + " Left at 9."}))
    )
    _results(
        push(
            b,
            mutation(
                2,
                "update",
                record_id=rid,
                base_version=version,
                fields={"notes": "Man at bus stop. " + notes.split("Man at bus stop. ", 1)[1] + " Shelter full."},
            ),
        )
    )
    final = Engagement.objects.get(pk=rid).notes
    for sentence in ("Man at bus stop.", "Gave water.", "Called his sister.", "Left at 9.", "Shelter full."):
        assert final.count(sentence) == 1, final


def test_a_conflict_names_who_set_the_kept_value_and_a_resolution_answers_with_the_version(field):
    """Case 6: server_author was whoever wrote the previous version, not who set the value that stayed; the resolve
    answer carried no record version though a resolution writes one."""
    a, b, c = field.api(field.responder), field.api(field.partner), field.api(field.supervisor)
    rid = _create(a)
    _results(push(b, mutation(1, "update", record_id=rid, base_version=1, fields={"disposition": "transported"})))
    _results(push(c, mutation(1, "update", record_id=rid, base_version=2, fields={"notes": "Supervisor note."})))
    r = _results(
        push(a, mutation(2, "update", record_id=rid, base_version=1, fields={"disposition": "declined_services"}))
    )[0]
    assert r["status"] == "conflict"
    conflict = Conflict.objects.get(pk=r["conflicts"][0]["id"])
    assert conflict.server_author_id == field.partner.pk
    answer = c.post(f"/api/v1/sync/conflicts/{conflict.pk}/resolve", {"resolution": "take_incoming"}, format="json")
    assert answer.status_code == 200, answer.content
    record = Engagement.objects.get(pk=rid)
    assert record.disposition == "declined_services"
    assert answer.json()["record_version"] == record.version
    assert pull(c).status_code == 200


# Found by a reviewer who read only the protocol page (a phone may pull with unsent edits and keep them on top).


def test_a_merge_that_changes_no_value_still_reaches_the_phone_on_its_next_pull(tfield):
    """A pulled version 2 with its own offline edit still unsent; the server merged that edit into what it had
    (no value changed) and answered with version 2: no pull ever brought the record back, and A kept showing its
    own value. A merge that stores something other than what was sent writes a version."""
    a, b = tfield.api(tfield.responder), tfield.api(tfield.partner)
    rid = _create(a, fields={"origin": "on_view", "needs": ["housing"]})
    cursor = pull(a).json()["cursor"]
    _results(push(b, mutation(1, "update", record_id=rid, base_version=1, fields={"needs": ["medical"]})))
    cursor = pull(a, cursor).json()["cursor"]  # A now holds version 2; its edit below is still in its outbox
    r = _results(push(a, mutation(2, "update", record_id=rid, base_version=1, fields={"needs": []})))[0]
    assert r["status"] == "merged" and r["version"] == 3
    changes = pull(a, cursor).json()["changes"]
    assert [(c["id"], c["record"]["needs"]) for c in changes] == [(str(rid), ["medical"])]


def test_a_refused_delete_brings_the_record_back_on_the_next_pull(tfield):
    """A delete that becomes a conflict answered with the old version: the phone that had pulled that version
    never got the record back."""
    a, b = tfield.api(tfield.responder), tfield.api(tfield.partner)
    rid = _create(a)
    cursor = pull(a).json()["cursor"]
    _results(push(b, mutation(1, "update", record_id=rid, base_version=1, fields={"disposition": "transported"})))
    cursor = pull(a, cursor).json()["cursor"]
    r = _results(push(a, mutation(2, "delete", record_id=rid, base_version=1)))[0]
    assert r["status"] == "conflict" and r["version"] == 3
    changes = pull(a, cursor).json()["changes"]
    assert [(c["id"], c["op"], c["record"]["disposition"]) for c in changes] == [(str(rid), "upsert", "transported")]
