"""Admission for pushes: when every slot is busy, a push is answered 503 with Retry-After at once, nothing of it
applied, and the same push succeeds once a slot is free."""

import threading
import time
from contextlib import contextmanager

from incidents.models import Engagement
from sync.models import Mutation
from sync.push import _admission, push_slot
from tests.support import ON_VIEW, mutation, push


@contextmanager
def another_push_holding_the_slot(release_after=None):
    """Another request holds the only push slot, in another thread, until the block ends (or release_after s)."""
    holding, release = threading.Event(), threading.Event()

    def busy_push():
        with push_slot():
            holding.set()
            release.wait(10)

    other = threading.Thread(target=busy_push)
    other.start()
    try:
        assert holding.wait(5)
        if release_after is not None:
            threading.Timer(release_after, release.set).start()
        yield
    finally:
        release.set()
        other.join()


def test_a_push_that_cannot_start_in_time_gets_503_with_retry_after_and_changes_nothing(field, settings):
    settings.SYNC_PUSH_CONCURRENCY, settings.SYNC_PUSH_QUEUE_SECONDS = 1, 0.2
    api = field.api(field.responder)
    body = mutation(1, fields=ON_VIEW)
    with another_push_holding_the_slot():
        started = time.monotonic()
        response = push(api, body)
        waited = time.monotonic() - started
    assert response.status_code == 503, response.content
    assert response.json()["code"] == "server_busy"
    assert 1 <= int(response["Retry-After"]) <= settings.SYNC_PUSH_RETRY_AFTER_MAX
    assert waited < 2  # answered after the queue time, not after the busy push
    assert not Engagement.objects.exists() and not Mutation.objects.exists()

    retried = push(api, body)
    assert retried.status_code == 200 and retried.json()["results"][0]["status"] == "applied"
    assert Engagement.objects.filter(pk=body["id"]).exists()


def test_pushes_within_the_limit_wait_for_a_slot_instead_of_failing(field, settings):
    settings.SYNC_PUSH_CONCURRENCY, settings.SYNC_PUSH_QUEUE_SECONDS = 1, 5
    api = field.api(field.responder)
    with another_push_holding_the_slot(release_after=0.3):  # the busy push ends while this one waits
        response = push(api, mutation(1, fields=ON_VIEW))
    assert response.status_code == 200


def test_pushes_turned_away_are_given_later_and_later_times_to_come_back(field, settings):
    """Each refused push is scheduled after the ones refused before it, so a crowd does not retry at once."""
    settings.SYNC_PUSH_CONCURRENCY, settings.SYNC_PUSH_QUEUE_SECONDS = 1, 0.01
    settings.SYNC_PUSH_RETRY_AFTER_MAX = 60
    schedule = _admission(1)
    schedule.push_seconds, schedule.free_at = 1.0, 0.0  # pushes take a second here; none promised yet
    api = field.api(field.responder)
    waits = []
    with another_push_holding_the_slot():
        for _ in range(12):
            response = push(api, mutation(1, fields=ON_VIEW))
            assert response.status_code == 503
            waits.append(int(response["Retry-After"]))
    assert all(1 <= w <= 60 for w in waits)
    # One slot, a second a push: the twelfth refused is told to come back about eleven seconds after the first
    # (jitter: up to a second; the busy push's own end is not known yet).
    assert waits[-1] - waits[0] >= 9, waits
    assert all(later >= earlier - 1 for earlier, later in zip(waits, waits[1:], strict=False)), waits


def test_a_refused_push_is_not_parsed(field, settings):
    """The slot is taken before the body is read: a crowd of retries costs no JSON parsing."""
    settings.SYNC_PUSH_CONCURRENCY, settings.SYNC_PUSH_QUEUE_SECONDS = 1, 0.01
    api = field.api(field.responder)
    with another_push_holding_the_slot():
        busy = api.post("/api/v1/sync/push", "{not json", content_type="application/json")
    assert busy.status_code == 503
    assert api.post("/api/v1/sync/push", "{not json", content_type="application/json").status_code == 400
