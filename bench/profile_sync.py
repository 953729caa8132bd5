"""Profile one maximum-size push and a first pull through the real request path, in-process.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fr_bench_prof DJANGO_SECRET_KEY=x \
    DJANGO_SECURE_SSL_REDIRECT=false THROTTLE_SYNC=1000000/min \
        .venv/bin/python bench/profile_sync.py [--pushes 4] [--html var/profile]

Uses pyinstrument (requirements-dev.txt). Expects a migrated database; creates its own team and users.
"""

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

import django  # noqa: E402

django.setup()

from django.db import connection, reset_queries  # noqa: E402
from pyinstrument import Profiler  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from bench.workload import creates  # noqa: E402
from responders.models import Device, Membership, Organization, Program, Role, Team, User  # noqa: E402
from tests.support import issue_access_token  # noqa: E402


def client_for(team):
    user = User.objects.create(username=f"prof-{uuid.uuid4().hex[:8]}")
    Membership.objects.create(user=user, program=team.program, team=team, role=Role.FIELD_RESPONDER, is_active=True)
    from django.utils.timezone import now as django_now

    device = Device.objects.create(id=uuid.uuid4(), user=user, name="prof", approved_at=django_now(), approval="admin")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_access_token(user, device)}")
    return api


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pushes", type=int, default=4, help="batches of 500 to profile")
    parser.add_argument("--html", default="", help="write pyinstrument HTML reports with this prefix")
    args = parser.parse_args()
    org, _ = Organization.objects.get_or_create(slug="prof", defaults={"name": "Profile"})
    program, _ = Program.objects.get_or_create(organization=org, code="MACRO", defaults={"name": "MACRO"})
    team = Team.objects.create(program=program, code=f"prof-{uuid.uuid4().hex[:6]}", name="Profile")
    api = client_for(team)
    batches = [creates(500, offset=k * 500, seq_start=k * 500 + 1) for k in range(args.pushes)]

    connection.force_debug_cursor = True
    profiler = Profiler(interval=0.0005)
    started = time.perf_counter()
    with profiler:
        for batch in batches:
            reset_queries()
            response = api.post("/api/v1/sync/push", {"protocol": 1, "mutations": batch}, format="json")
            assert response.status_code == 200, response.content[:300]
    push_seconds = time.perf_counter() - started
    print(f"push: {args.pushes * 500 / push_seconds:,.0f} mutations/s; last batch {len(connection.queries)} queries")
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    if args.html:
        Path(args.html + "-push.html").write_text(profiler.output_html())

    puller = client_for(team)
    profiler = Profiler(interval=0.0005)
    started, rows, cursor = time.perf_counter(), 0, None
    with profiler:
        while True:
            reset_queries()
            params = {"protocol": 1, "limit": 500, **({"cursor": cursor} if cursor else {})}
            body = puller.get("/api/v1/sync/pull", params).json()
            rows += len(body["changes"])
            cursor = body["cursor"]
            if not body["has_more"]:
                break
    pull_seconds = time.perf_counter() - started
    print(f"pull: {rows / pull_seconds:,.0f} records/s; last page {len(connection.queries)} queries")
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    if args.html:
        Path(args.html + "-pull.html").write_text(profiler.output_html())


if __name__ == "__main__":
    main()
