"""The real WatermelonDB client (npm @nozbe/watermelondb 0.28, LokiJS adapter, in Node) against the running server,
through the app code docs/watermelondb.md shows (tests/watermelon/js/app/, run as written).

tests/watermelon/js/e2e.js plays a scenario and prints every local row of every phone; these tests then check
that each phone holds exactly what the server holds for its user, row for row and column for column, that
every row is synced, and that WatermelonDB logged nothing (no "[Sync] …" inconsistency). `make test` installs
the npm packages when Node.js is present; without Node the tests are skipped and say so.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from incidents.models import ContactAttempt, Engagement, FollowUpCase
from records.access import scoped_queryset
from records.wire import to_wire
from sync.watermelon import encode, specs_by_table
from tests.support import issue_access_token, wait_for_stable_horizon

JS = Path(__file__).resolve().parents[1] / "watermelon" / "js"
DOC = Path(__file__).resolve().parents[2] / "docs" / "watermelondb.md"


def _node_or_skip():
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: the WatermelonDB end-to-end test did not run")
    if not (JS / "node_modules" / "@nozbe" / "watermelondb").is_dir():
        pytest.skip("npm packages missing: run `npm ci --prefix tests/watermelon/js` (make test does)")
    return node


def run_scenario(live_server, field, scenario, phones, timeout=240, end_of_day=None):
    """Run one scenario of e2e.js; phones: {name: (user, device)}. Returns its JSON result.

    end_of_day: called when the scenario says E2E:END_OF_DAY on stdout (it then waits for a line on stdin).
    E2E:SETTLE: the test waits until every committed change reaches pulls, then answers."""
    node = _node_or_skip()
    out = Path(tempfile.mkstemp(prefix="e2e-", suffix=".json")[1])
    env = {
        **os.environ,
        "E2E_RESULT": str(out),
        "FIELD_URL": live_server.url,
        "PHONES": json.dumps({name: issue_access_token(user, device) for name, (user, device) in phones.items()}),
        "TEAMS": json.dumps({"MACRO": field.team_a.pk, "DVP": field.team_d.pk}),
    }
    with tempfile.TemporaryFile("w+") as stderr:
        proc = subprocess.Popen(
            [node, "e2e.js", scenario], cwd=JS, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=stderr, text=True,
        )  # fmt: skip
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            for line in proc.stdout:  # WatermelonDB logs to stdout too
                if line.strip() == "E2E:END_OF_DAY":
                    assert end_of_day is not None, f"{scenario} asks for the end of the day"
                    end_of_day()
                elif line.strip() == "E2E:SETTLE":
                    wait_for_stable_horizon()
                else:
                    continue
                proc.stdin.write("go\n")
                proc.stdin.flush()
            returncode = proc.wait()
        finally:
            killer.cancel()
        stderr.seek(0)
        logs = stderr.read()
    assert returncode == 0, f"e2e.js {scenario} failed (rc={returncode}):\n{logs[-4000:]}"
    # WatermelonDB logs "[Sync] Server wants client to create record …, but it already exists locally" and the
    # like when a server sends a record in the wrong bucket: the server must never make it say so.
    assert "[Sync]" not in logs, logs[-4000:]
    result = json.loads(out.read_text())
    out.unlink()
    assert result["logged"] == [], result["logged"]
    return result


def assert_phone_equals_server(name, rows, user):
    """Every table: the same records as the server shows this user, every column equal, every row synced."""
    for table, spec in specs_by_table().items():
        server = {
            str(r.pk): encode(spec, to_wire(spec, r, user))
            for r in scoped_queryset(spec, user).select_related("program")
        }
        mine = {r["id"]: r for r in rows.get(table, [])}
        assert set(mine) == set(server), (name, table, sorted(set(mine) ^ set(server)))
        for rid, expected in server.items():
            assert mine[rid]["_status"] == "synced", (name, table, rid, mine[rid]["_status"])
            differing = {k: (mine[rid].get(k), v) for k, v in expected.items() if mine[rid].get(k) != v}
            assert not differing, (name, table, rid, differing)


@pytest.mark.serial
def test_phones_end_equal_to_the_server_after_lost_answers_overlaps_and_a_day_offline(live_server, tfield, settings):
    """Four phones of one van (one offline all day) and a DVP phone: lost push answers, a 503 with Retry-After,
    overlapping and concurrent synchronize() calls, random edits of the same records, deletes, creates."""
    field = tfield
    settings.SYNC_WATERMELON_PULL_PAGE = 7  # several answers per sync, to run the paging loop everywhere
    phones = {
        "A": (field.responder, field.device(field.responder)),
        "B": (field.partner, field.device(field.partner)),
        "C": (field.responder, field.device(field.responder)),  # a second phone of the same responder
        "D": (field.partner, field.device(field.partner)),
        "E": (field.interrupter, field.device(field.interrupter)),
    }

    def end_of_day():
        # Hours later: a deletion held back from a phone with nothing to push (so that WatermelonDB would not
        # destroy an unsynced edit with it) now reaches it.
        settings.SYNC_WATERMELON_DELETE_GRACE_HOURS = 0

    result = run_scenario(live_server, field, "field-day", phones, end_of_day=end_of_day)
    for name, (user, _) in phones.items():
        assert_phone_equals_server(name, result["phones"][name], user)

    stats = result["stats"]
    assert stats["lostAnswers"] >= 3 and stats["injectedBusy"] == 1 and stats["overlapsAborted"] >= 1, stats
    assert "D is back" in result["events"] and "settled" in result["events"]
    notes = [e.notes for e in Engagement.objects.all()]
    assert any("A: left water at the shelter" in n and "B: he declined a ride" in n for n in notes), notes
    assert FollowUpCase.objects.filter(team=field.team_d).count() == 1
    assert ContactAttempt.objects.filter(team=field.team_d).count() == 1


@pytest.mark.serial
def test_two_phones_counting_the_same_supply_offline_add_up(live_server, tfield):
    """Issue 15, item 4: both phones water 1 -> 2 from the same base; the server must keep 3."""
    field = tfield
    phones = {
        "A": (field.responder, field.device(field.responder)),
        "B": (field.partner, field.device(field.partner)),
    }
    result = run_scenario(live_server, field, "increments", phones)
    assert Engagement.objects.get().supplies == {"water": 3}
    for name, (user, _) in phones.items():
        assert_phone_equals_server(name, result["phones"][name], user)


def _peak_rss_reset():
    """Reset this process's peak resident size (Linux); returns False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _memory_kb(key):
    match = re.search(rf"^{key}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    return int(match.group(1))


@pytest.mark.serial
def test_a_first_sync_of_5000_records_comes_in_bounded_answers_each_record_once(live_server, tfield, settings):
    """Issue 15, item 6: a new phone on a team of 5,000 records, through the app's paging loop."""
    field = tfield
    api = field.api(field.responder)
    rows = [
        {
            "id": str(uuid.uuid4()),
            "origin": "on_view",
            "beat": "19X",
            "notes": f"Contact {i}: " + "x" * 400,
            "needs": '["housing"]',
            "supplies": '{"water":1}',
            "team_id": field.team_a.pk,
        }  # fmt: skip
        for i in range(5000)
    ]
    for start in range(0, 5000, 2500):
        part = {"engagements": {"created": rows[start : start + 2500], "updated": [], "deleted": []}}
        answer = api.post("/api/v1/sync/watermelon/push?last_pulled_at=null", part, format="json")
        assert answer.status_code == 200 and answer.json()["experimentalRejectedIds"] == {}
    assert Engagement.objects.count() == 5000
    wait_for_stable_horizon()  # else the stream sends again, in `updated`, what the backfill sent

    page = settings.SYNC_WATERMELON_PULL_PAGE
    peak_known = _peak_rss_reset()
    rss_before = _memory_kb("VmRSS")
    started = time.monotonic()
    result = run_scenario(live_server, field, "first-sync", {"N": (field.partner, field.device(field.partner))})
    wall = time.monotonic() - started
    growth = _memory_kb("VmHWM") - rss_before

    answers = result["answers"]
    ids = [i for a in answers for i in a["ids"]]
    assert len(ids) == len(set(ids)) == 5000, "every record exactly once"
    assert set(ids) == {r["id"] for r in rows}
    assert all(a["records"] <= page for a in answers), [a["records"] for a in answers]
    assert [a["has_more"] for a in answers] == [True] * (len(answers) - 1) + [False]
    assert -(-5000 // page) <= len(answers) <= 5000 // page + 1
    assert_phone_equals_server("N", result["phones"]["N"], field.partner)
    figures = {
        "answers": len(answers),
        "records_per_answer": [a["records"] for a in answers],
        "bytes_per_answer": [a["bytes"] for a in answers],
        "client_seconds": result["seconds"],
        "wall_seconds": round(wall, 2),
        "server_peak_rss_growth_kb": growth if peak_known else None,
    }
    print("first sync of 5,000 records:", json.dumps(figures))  # the figures docs/watermelondb.md quotes
    assert max(a["bytes"] for a in answers) < 2_000_000


def test_the_docs_show_the_app_code_the_end_to_end_test_runs():
    """docs/watermelondb.md shows tests/watermelon/js/app/*.js character for character, each file once."""
    doc = DOC.read_text()
    shown = dict(re.findall(r"<!-- snippet: (\S+) -->\n```js\n(.*?)```\n", doc, re.S))
    app = sorted(p.relative_to(JS.parents[2]).as_posix() for p in (JS / "app").glob("*.js"))
    assert sorted(shown) == app
    for path, code in shown.items():
        assert code == (JS.parents[2] / path).read_text(), f"docs/watermelondb.md shows an old {path}"
