"""records.bulk.insert_many (COPY) stores exactly what bulk_create stores, and fails as it does."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.forms.models import model_to_dict
from django.utils import timezone

from audit.models import AuditEvent
from incidents.choices import Origin
from incidents.models import Engagement
from records.bulk import insert_many
from records.models import RecordVersion
from sync.models import Mutation

AWKWARD = 'tab\there, newline\nthere, \\backslash, "quotes", \\N, \r, émoji 🚐, \\\\t'
JSON = {"notes": AWKWARD, "list": [1, 2.5, None, True, "\\N"], "nested": {"a": [{"b": "c\td"}]}, "é": "ü"}


def stored(model, objs, lookup):
    """What the database holds for `objs`, in their order (rows with generated ids: in id order, which is
    insertion order), without the id."""
    rows = model._base_manager.filter(**lookup(objs)).order_by("pk")
    by_pk = {obj.pk: model_to_dict(obj, fields=[f.name for f in model._meta.concrete_fields]) for obj in rows}
    ordered = [by_pk[o.pk] for o in objs] if objs[0].pk is not None else list(by_pk.values())
    assert len(ordered) == len(objs)
    for row in ordered:
        row.pop("id")
    return ordered


def both_ways(model, make, lookup=lambda objs: {"pk__in": [o.pk for o in objs]}, ignore=()):
    """Insert like objects with bulk_create and with insert_many; return what each stored, in order.

    make(arm) builds the objects; `ignore`: fields that must differ between the arms (unique values)."""
    a, b = make(0), make(1)
    model._base_manager.bulk_create(a)
    insert_many(model, b)
    for obj in b:
        assert obj._state.adding is False
    return tuple(
        [{k: v for k, v in row.items() if k not in ignore} for row in stored(model, objs, lookup)] for objs in (a, b)
    )


def test_versions_and_audit_events_are_stored_as_bulk_create_stores_them(field):
    at = timezone.now() - timedelta(minutes=5)
    device = field.device(field.responder)

    def versions(arm):
        return [
            RecordVersion(
                record_type="engagement",
                record_id=uuid.UUID(int=arm * 100 + i + 1),
                version=1,
                data={**JSON, "i": i},
                changed_fields=["notes", AWKWARD],
                author=field.responder,
                device=None if i % 2 else device,
                mutation_id=None if i % 2 else uuid.UUID(int=i + 7),
                at=at,
            )
            for i in range(4)
        ]

    def events(arm):
        return [
            AuditEvent(
                action=AuditEvent.Action.RECORD_CREATE,
                actor=field.responder,
                program=field.macro,
                object_type="engagement",
                object_id=str(uuid.UUID(int=arm * 100 + i + 1)),
                ip="10.0.0.1" if i else None,
                detail={"late": bool(i), "why": AWKWARD},
                at=at,
            )
            for i in range(3)
        ]

    by_record = lambda objs: {"record_id__in": [o.record_id for o in objs]}  # noqa: E731
    old, new = both_ways(RecordVersion, versions, by_record, ignore=("record_id",))
    assert new == old
    assert new[0]["data"] == {**JSON, "i": 0} and new[0]["changed_fields"] == ["notes", AWKWARD]
    by_object = lambda objs: {"object_id__in": [o.object_id for o in objs]}  # noqa: E731
    old, new = both_ways(AuditEvent, events, by_object, ignore=("object_id",))
    assert new == old


def test_records_and_mutations_are_stored_as_bulk_create_stores_them(field):
    device = field.device(field.responder)
    now = timezone.now()

    def engagements(arm):
        return [
            Engagement(
                id=uuid.uuid4(),
                program=field.macro,
                team=field.team_a,
                created_by=field.responder,
                created_on_device=device,
                updated_by=field.responder,
                origin="on_view",
                latitude=Decimal("37.804363"),
                longitude=Decimal("-122.271111"),
                notes=AWKWARD,
                needs=["housing"],
                persons=[{"alias": AWKWARD}],
                supplies={"water": i},
                on_scene_at=now,
                next_follow_up_due=now.date(),
                eligible=None if i else False,
                server_received_at=now,
                server_updated_at=now,
            )
            for i in range(3)
        ]

    old, new = both_ways(Engagement, engagements)
    assert new == old
    assert new[0]["notes"] == AWKWARD and new[0]["latitude"] == Decimal("37.804363")

    def mutations(arm):
        return [
            Mutation(
                id=uuid.uuid4(),
                device=device,
                user=field.responder,
                seq=arm * 100 + i + 1,
                record_type="engagement",
                record_id=uuid.UUID(int=5),
                op="create",
                payload={"fields": JSON},
                status="applied",
                result={"status": "applied", "version": 1},
                team=field.team_a,
                program=field.macro,
                processed_at=now,
                protocol=1001,
                app_version="1.2.3",
                received_at=now,
            )
            for i in range(3)
        ]

    old, new = both_ways(Mutation, mutations, ignore=("seq",))
    assert new == old


def test_a_refused_row_raises_integrity_error_and_nothing_is_inserted(field):
    device = field.device(field.responder)

    def mutation(seq):
        return Mutation(
            id=uuid.uuid4(),
            device=device,
            user=field.responder,
            seq=seq,
            record_type="engagement",
            record_id=uuid.uuid4(),
            op="create",
            status="applied",
        )

    rows = [mutation(1), mutation(2), mutation(1)]  # one seq twice: (device, seq) is unique
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_many(Mutation, rows)
    assert not Mutation.objects.filter(device=device).exists()


def test_generated_ids_must_be_all_or_nothing(field):
    rows = [
        AuditEvent(action=AuditEvent.Action.SYNC_PUSH, object_type="device"),
        AuditEvent(id=10**12, action=AuditEvent.Action.SYNC_PUSH, object_type="device"),
    ]
    with pytest.raises(ValueError):
        insert_many(AuditEvent, rows)


def test_values_django_converts_are_stored_as_django_stores_them(field):
    """insert_many writes most attributes as they are; the values Django would convert (a naive datetime, made
    aware in the default zone; a JSON None, which is SQL NULL; integer keys and integers beyond 64 bits in JSON;
    a choice given as its enum member) are stored exactly as bulk_create stores them."""
    device = field.device(field.responder)
    naive = timezone.make_naive(timezone.now() - timedelta(hours=3))  # the default zone's wall time

    def engagements(arm):
        return [
            Engagement(
                id=uuid.uuid4(),
                program=field.macro,
                team=field.team_a,
                created_by=field.responder,
                created_on_device=device,
                updated_by=field.responder,
                origin=Origin.ON_VIEW if i else "on_view",
                on_scene_at=naive,
                supplies={1: i, "big": 2**70},
                server_received_at=naive,
                server_updated_at=timezone.now(),
            )
            for i in range(2)
        ]

    with pytest.warns(RuntimeWarning):  # Django's warning for a naive datetime, from both arms
        old, new = both_ways(Engagement, engagements)
    assert new == old
    assert new[0]["on_scene_at"] == timezone.make_aware(naive)
    assert new[0]["supplies"] == {"1": 0, "big": 2**70}

    naive_as_aware = timezone.make_aware(naive)

    def versions(arm):
        return [
            AuditEvent(
                action=AuditEvent.Action.RECORD_CREATE,
                actor=field.responder,
                object_type="engagement",
                object_id=f"{arm}-{i}",
                detail={"none": None, "list": [None]},
                at=naive_as_aware,
            )
            for i in range(2)
        ]

    by_object = lambda objs: {"object_id__in": [o.object_id for o in objs]}  # noqa: E731
    old, new = both_ways(AuditEvent, versions, by_object, ignore=("object_id",))
    assert new == old
