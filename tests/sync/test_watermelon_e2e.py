"""The real WatermelonDB client (npm @nozbe/watermelondb, LokiJS adapter, in Node) against the running server.

tests/watermelon/js/e2e.js drives two phones through create, concurrent edits of one record, delete, a lost push
and sync;
this test then checks that both phones hold exactly what the server holds. `make test` installs the npm
packages when Node.js is present; without Node the test is skipped and says so.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from incidents.models import Engagement
from sync.models import Conflict
from sync.records import to_wire
from sync.registry import get_spec
from sync.watermelon import encode
from tests.support import issue_access_token

JS = Path(__file__).resolve().parents[1] / "watermelon" / "js"


def _node_or_skip():
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: the WatermelonDB end-to-end test did not run")
    if not (JS / "node_modules" / "@nozbe" / "watermelondb").is_dir():
        pytest.skip("npm packages missing: run `npm ci --prefix tests/watermelon/js` (make test does)")
    return node


@pytest.mark.serial
def test_two_real_watermelondb_clients_sync_and_end_equal_to_the_server(live_server, tfield):
    node = _node_or_skip()
    field = tfield
    env = {
        **os.environ,
        "FIELD_URL": live_server.url,
        "TOKEN_A": issue_access_token(field.responder, field.device(field.responder)),
        "TOKEN_B": issue_access_token(field.partner, field.device(field.partner)),
        "TEAM_ID": str(field.team_a.pk),
    }
    run = subprocess.run([node, "e2e.js"], cwd=JS, env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, f"e2e.js failed:\n{run.stderr[-4000:]}"
    # WatermelonDB logs "[Sync] Server wants client to create record …, but it already exists locally" and the
    # like when a server sends a record in the wrong bucket: the server must never make it say so.
    assert "[Sync]" not in run.stderr, run.stderr[-4000:]
    phones = json.loads(run.stdout.strip().splitlines()[-1])

    spec = get_spec("engagement")
    live = {str(r.pk): r for r in Engagement.objects.filter(deleted_at__isnull=True).select_related("program")}
    assert live, "the scenario left no engagement on the server"
    server = {rid: encode(spec, to_wire(spec, r, field.responder)) for rid, r in live.items()}
    for name in ("A", "B"):
        rows = {r["id"]: r for r in phones[name]["engagements"]}
        assert set(rows) == set(server), (name, sorted(rows), sorted(server))
        for rid, expected in server.items():
            differing = {k: (rows[rid].get(k), v) for k, v in expected.items() if rows[rid].get(k) != v}
            assert not differing, (name, rid, differing)

    deleted = Engagement._base_manager.filter(deleted_at__isnull=False)
    assert deleted.count() == 1 and str(deleted.get().pk) not in server
    edited = next(r for r in live.values() if r.beat == "20Y")
    assert edited.address == "International Blvd & 23rd Ave"
    # B set the disposition before it saw A's, then lost that push: A's value stands and B's is kept for review.
    assert edited.disposition == "resolved_on_scene"
    assert Conflict.objects.filter(record_id=edited.pk, field="disposition", incoming_value="transported").exists()
    # Both phones edited the notes of the same record: the free-text merge kept both, or a conflict did.
    assert edited.notes.count("\n") >= 1 or Conflict.objects.filter(record_id=edited.pk, field="notes").exists()
