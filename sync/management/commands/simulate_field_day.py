"""Play a MACRO van's day against a running server: two crew phones offline, edits that collide, a retry
storm, a supervisor resolving what conflicted. Prints what was applied, merged, conflicted and resolved.

    make run                                  # in one terminal
    .venv/bin/python manage.py simulate_field_day --url http://127.0.0.1:8000

Uses the same database as the server to set up its accounts (sim_crew_1, sim_crew_2, sim_supervisor in
the first MACRO team); everything else goes over HTTP with the reference client (sync/client.py).
"""

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from responders.models import Membership, Program, Role, Team, User
from sync.client import PROTOCOL, HttpTransport, SyncClient

PASSWORD = "simulated-field-day-2026"  # noqa: S105 - simulation accounts on a demo server


def login(base_url: str, username: str, device_id: uuid.UUID) -> str:
    status, body = HttpTransport(base_url, token=None)(
        "POST",
        "/api/v1/auth/login",
        {
            "username": username,
            "password": PASSWORD,
            "device_id": str(device_id),
            "device_name": f"{username} phone",
            "platform": "simulated",
        },
    )
    if status != 200:
        raise CommandError(f"Login of {username} failed: {status} {body}")
    token: str = body["access"]
    return token


class Command(BaseCommand):
    help = "Simulate a field day of offline devices against a running server and print the sync outcomes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000")
        parser.add_argument("--contacts", type=int, default=6, help="Engagements the crew logs before losing signal.")

    def handle(self, *args: Any, url: str, contacts: int, **options: Any) -> None:
        url = url.rstrip("/")
        if contacts < 6:
            raise CommandError("--contacts must be at least 6.")
        team = Team.objects.filter(program__code=Program.Code.MACRO, is_active=True).order_by("id").first()
        if team is None:
            raise CommandError("No MACRO team: run `manage.py load_demo_data` first.")
        with transaction.atomic():
            crew = [
                self._account("sim_crew_1", team, Role.FIELD_RESPONDER),
                self._account("sim_crew_2", team, Role.FIELD_RESPONDER),
            ]
            supervisor = self._account("sim_supervisor", team, Role.SUPERVISOR)
        say = self.stdout.write
        say(f"Team {team} — crew {crew[0].username}, {crew[1].username}; supervisor {supervisor.username}")

        phones = [SyncClient(HttpTransport(url, login(url, u.username, uuid.uuid4())), batch_size=50) for u in crew]
        boss = SyncClient(HttpTransport(url, login(url, supervisor.username, uuid.uuid4())))
        emt, specialist = phones

        # Morning, with signal: the EMT logs contacts, both phones sync.
        ids = [
            emt.create(
                "engagement",
                {
                    "origin": "on_view",
                    "needs": ["housing"],
                    "supplies": {"water": 1},
                    "notes": f"On-view contact #{i + 1}.",
                },
            )
            for i in range(contacts)
        ]
        ids.append(
            emt.create(
                "engagement",
                {
                    "origin": "911_dispatch",
                    "cad_number": f"SIM-{uuid.uuid4().hex[:6]}",
                    "call_type": "welfare check",
                    "priority": "3",
                    "needs": ["welfare_check"],
                },
            )
        )
        self._report("EMT, morning sync", emt.sync())
        specialist.pull()
        say(f"Both phones hold {len(emt.records)} / {len(specialist.records)} records.")

        # Afternoon: no signal. Both edit the same contacts.
        shared = ids[:3]
        for rid in shared:
            emt.update(
                "engagement",
                rid,
                {
                    "needs": ["housing", "medical"],
                    "supplies": {"water": 3},
                    "disposition": "transported",
                    "notes": "EMT: transported to Highland.",
                },
            )
            specialist.update(
                "engagement",
                rid,
                {
                    "needs": ["housing", "mental_health"],
                    "supplies": {"water": 2},
                    "disposition": "referred",
                    "notes": "CIS: referred to shelter.",
                },
            )
        specialist.delete("engagement", ids[3])
        emt.update("engagement", ids[3], {"notes": "EMT added a note the specialist never saw."})
        emt.update("engagement", ids[4], {"supplies": {"water": -2}})  # a typo the server must reject, not lose
        # A chain of offline edits of one contact, all on the version last pulled: the EMT hands out water twice
        # and changes the disposition twice; the specialist hands out one more. Each edit counts once.
        chain = ids[5]
        for water, disposition in ((2, "transported"), (3, "referred")):
            emt.update("engagement", chain, {"supplies": {"water": water}, "disposition": disposition})
        specialist.update("engagement", chain, {"supplies": {"water": 2}})

        # Evening: the specialist reconnects first; the EMT's first response is lost and it retries.
        self._report("Specialist, evening push", specialist.push())
        status, lost = emt.transport(
            "POST", "/api/v1/sync/push", {"protocol": PROTOCOL, "mutations": [m.wire() for m in emt.outbox]}
        )
        say(f"EMT push sent, response lost on the way (server answered {status} for {len(lost['results'])}).")
        self._report("EMT, retry after the lost response", emt.push())
        emt.pull()
        specialist.pull()

        # The supervisor sees what needs a person, and resolves it.
        status, conflicts = boss.transport("GET", "/api/v1/sync/conflicts", params={"status": "open"})
        mine = [c for c in conflicts["results"] if c["record_id"] in ids]
        say(f"Open conflicts for the supervisor: {len(mine)}")
        for conflict in mine:
            say(f"  {conflict['field']}: kept {conflict['server_value']!r}, held back {conflict['incoming_value']!r}")
            resolution = "take_incoming" if conflict["field"] == "disposition" else "keep_server"
            status, body = boss.transport(
                "POST", f"/api/v1/sync/conflicts/{conflict['id']}/resolve", {"resolution": resolution}
            )
            say(f"  -> {resolution}: {status} {body.get('status', body.get('code'))}")
        status, quarantine = boss.transport("GET", "/api/v1/sync/quarantine")
        for m in quarantine["results"]:
            if m["record_id"] in ids:
                say(f"Quarantined: {m['op']} {m['record_type']} {m['record_id'][:8]} — {m['reason_code']}")
        emt.pull()
        specialist.pull()
        record = emt.records[("engagement", chain)]
        say(
            f"Chain of offline edits on {chain[:8]}: water {record['supplies'].get('water')} (1 + 2 from the EMT + 1 "
            f"from the specialist), disposition {record['disposition']!r} (the EMT's last edit)."
        )
        if record["supplies"] != {"water": 4} or record["disposition"] != "referred":
            raise CommandError("The chain of offline edits did not merge to what the crew did.")
        same = emt.records == specialist.records
        say(self.style.SUCCESS(f"After syncing, both phones hold {len(emt.records)} records; identical: {same}"))
        if not same:
            raise CommandError("The phones disagree after a full sync.")

    def _account(self, username: str, team: Team, role: str) -> User:
        user, _ = User.objects.get_or_create(username=username, defaults={"first_name": "Sim"})
        user.set_password(PASSWORD)
        user.is_active = True
        user.new_devices_allowed = 1  # as a program admin handing out a phone: each run signs in on a new one
        user.save()
        Membership.objects.filter(user=user, program=team.program).exclude(team=team, role=role).update(is_active=False)
        Membership.objects.get_or_create(user=user, program=team.program, team=team, role=role, is_active=True)
        return user

    def _report(self, title: str, results: list[dict[str, Any]]) -> None:
        counts: dict[str, int] = {}
        for r in results:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        dup = sum(1 for r in results if r.get("duplicate"))
        extra = f", {dup} answered from the idempotency record" if dup else ""
        self.stdout.write(f"{title}: {counts}{extra}")
        for r in results:
            if r["status"] in ("merged", "conflict", "rejected"):
                detail = r.get("code") or "; ".join(
                    part
                    for part in (
                        f"merged {r['merged_fields']}" if r.get("merged_fields") else "",
                        f"kept for review {[c['field'] for c in r.get('conflicts', [])]}" if r.get("conflicts") else "",
                    )
                    if part
                )
                self.stdout.write(f"  {r['status']:9} {r['type']} {r['id'][:8]}: {detail}")
