"""What one pushed mutation writes: rows and bytes per table, for creates and for conflicting updates.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<a migrated scratch database> DJANGO_SECRET_KEY=x \
    DJANGO_SECURE_SSL_REDIRECT=false THROTTLE_SYNC=1000000/min .venv/bin/python bench/mutation_cost.py

Pushes 2,000 engagements (4 batches of 500, the bench's ~840-byte records), then an update of each from a
second device (applied), then a conflicting update of each from a third, in process, and reports each
table's growth divided by the number of mutations: rows, and bytes of table, indexes and TOAST after
VACUUM (an updated row's old version counts while its space is held). Figures: bench/README.md.
"""

import os
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from bench.profile_sync import client_for  # noqa: E402
from bench.workload import creates, updates  # noqa: E402
from responders.models import Organization, Program, Team  # noqa: E402

TABLES = [
    "incidents_engagement",
    "sync_recordversion",
    "sync_change",
    "audit_auditevent",
    "sync_mutation",
    "sync_conflict",
]


def sizes():
    out = {}
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"VACUUM {table}")  # noqa: S608 (names from the list above)
            cursor.execute(f"SELECT count(*), pg_total_relation_size('{table}') FROM {table}")  # noqa: S608
            out[table] = cursor.fetchone()
    return out


def report(title, before, after, n):
    print(f"\n{title} ({n:,} mutations)\n\n| table | rows per mutation | bytes per mutation |\n|---|---|---|")
    rows_total = bytes_total = 0
    for table in TABLES:
        rows = (after[table][0] - before[table][0]) / n
        size = (after[table][1] - before[table][1]) / n
        rows_total += rows
        bytes_total += size
        print(f"| {table} | {rows:.2f} | {size:,.0f} |")
    print(f"| **all** | **{rows_total:.2f}** | **{bytes_total:,.0f}** |")


def batches_of(mutations, size=500):
    return [mutations[k : k + size] for k in range(0, len(mutations), size)]


def phase(title, api, batches, expect):
    before = sizes()
    for batch in batches:
        answer = api.post("/api/v1/sync/push", {"protocol": 1, "mutations": batch}, format="json").json()
        assert {r["status"] for r in answer["results"]} == {expect}, answer["results"][:1]
    report(title, before, sizes(), sum(len(b) for b in batches))


def main():
    connection.ensure_connection()
    connection.connection.autocommit = True  # VACUUM cannot run in a transaction
    org, _ = Organization.objects.get_or_create(slug="cost", defaults={"name": "Cost"})
    program, _ = Program.objects.get_or_create(organization=org, code="MACRO", defaults={"name": "MACRO"})
    team = Team.objects.create(program=program, code=f"cost-{uuid.uuid4().hex[:6]}", name="Cost")
    seed, first, second = client_for(team), client_for(team), client_for(team)
    batches = [creates(500, offset=k * 500, seq_start=k * 500 + 1) for k in range(4)]
    phase("Creates", seed, batches, "applied")
    ids = [m["id"] for batch in batches for m in batch]
    phase("Updates (applied)", first, batches_of(updates(ids, {"disposition": "referred"})), "applied")
    fields = {"disposition": "transported", "needs": ["housing", "medical"]}
    phase(
        "Updates that conflict (a scalar both changed; a set merged)",
        second,
        batches_of(updates(ids, fields)),
        "conflict",
    )


if __name__ == "__main__":
    main()
