"""Admission for pushes: when every slot is busy, a push is answered 503 with Retry-After at once, nothing of it
applied, and the same push succeeds once a slot is free."""

import threading
import time

from incidents.models import Engagement
from sync.models import Mutation
from sync.push import push_slot
from tests.support import ON_VIEW, mutation, push


def test_a_push_that_cannot_start_in_time_gets_503_with_retry_after_and_changes_nothing(field, settings):
    settings.SYNC_PUSH_CONCURRENCY, settings.SYNC_PUSH_QUEUE_SECONDS = 1, 0.2
    api = field.api(field.responder)
    body = mutation(1, fields=ON_VIEW)
    holding, release = threading.Event(), threading.Event()

    def busy_push():  # another request holding the only slot, in another thread
        with push_slot():
            holding.set()
            release.wait(10)

    other = threading.Thread(target=busy_push)
    other.start()
    try:
        assert holding.wait(5)
        started = time.monotonic()
        response = push(api, body)
        waited = time.monotonic() - started
    finally:
        release.set()
        other.join()
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
    holding, release = threading.Event(), threading.Event()

    def busy_push():
        with push_slot():
            holding.set()
            release.wait(10)

    other = threading.Thread(target=busy_push)
    other.start()
    assert holding.wait(5)
    threading.Timer(0.3, release.set).start()  # the busy push ends while this one waits
    response = push(api, mutation(1, fields=ON_VIEW))
    other.join()
    assert response.status_code == 200
