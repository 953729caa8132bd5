import pytest

from incidents import services
from incidents.models import Engagement


def test_named_services_write_through_the_record_core(field):
    created = services.engagement_create(actor=field.responder, data={"origin": "on_view", "needs": ["housing"]})
    assert created.status == "applied" and created.version == 1
    updated = services.engagement_update(
        actor=field.partner, record_id=created.instance.pk, data={"disposition": "referred"}, base_version=1
    )
    assert (updated.status, updated.version) == ("applied", 2)
    services.engagement_delete(actor=field.responder, record_id=created.instance.pk)
    assert Engagement.objects.get(pk=created.instance.pk).deleted_at is not None
    assert services.engagement_update.__name__ == "engagement_update"


def test_named_services_respect_scope(field):
    created = services.engagement_create(actor=field.responder, data={"origin": "on_view"})
    from backend.errors import NotFound

    with pytest.raises(NotFound):
        services.engagement_update(actor=field.other_team, record_id=created.instance.pk, data={"notes": "x"})
