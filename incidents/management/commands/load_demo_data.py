"""Demo data for `make run`: both programs, two teams each, a user for every role, devices, and a day of records.

Idempotent: run it again and nothing is duplicated (fixed usernames and record ids).
"""

import uuid

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from incidents.demo import load_demo_records
from responders.models import Device, Membership, Organization, Program, Role, Team

DEMO_PASSWORD = "field-demo-2026"  # noqa: S105 - published demo logins for a local server
DEMO_NEW_DEVICES = 5  # new devices each demo person may sign in on before one waits for approval

TEAMS = {
    "MACRO": [("van-1", "East Oakland van"), ("van-2", "West Oakland van")],
    "DVP": [("zone-east", "East Oakland zone"), ("zone-west", "West Oakland zone")],
}
# username, program, team code (None: program-wide), role, name
USERS = [
    ("macro_responder", "MACRO", "van-1", Role.FIELD_RESPONDER, ("Dana", "Reyes")),
    ("macro_partner", "MACRO", "van-1", Role.FIELD_RESPONDER, ("Luis", "Ortega")),
    ("macro_responder2", "MACRO", "van-2", Role.FIELD_RESPONDER, ("Kim", "Nguyen")),
    ("macro_coordinator", "MACRO", None, Role.COORDINATOR, ("Ari", "Cole")),
    ("macro_supervisor", "MACRO", "van-1", Role.SUPERVISOR, ("Jo", "Park")),
    ("macro_admin", "MACRO", None, Role.PROGRAM_ADMIN, ("Sam", "Lee")),
    ("macro_analyst", "MACRO", None, Role.ANALYST, ("Pat", "Quinn")),
    ("dvp_interrupter", "DVP", "zone-east", Role.FIELD_RESPONDER, ("Marcus", "Hill")),
    ("dvp_interrupter2", "DVP", "zone-west", Role.FIELD_RESPONDER, ("Tasha", "Brooks")),
    ("dvp_coordinator", "DVP", "zone-east", Role.COORDINATOR, ("Kentrell", "Adams")),
    ("dvp_supervisor", "DVP", "zone-east", Role.SUPERVISOR, ("Rosa", "Diaz")),
    ("dvp_admin", "DVP", None, Role.PROGRAM_ADMIN, ("Omar", "Said")),
    ("dvp_analyst", "DVP", None, Role.ANALYST, ("Lee", "Chan")),
]


def demo_device_id(username):
    return uuid.uuid5(uuid.NAMESPACE_URL, f"demo-device/{username}")


class Command(BaseCommand):
    help = "Load demo programs, teams, users (one per role), devices and a realistic day of field records."

    def add_arguments(self, parser):
        parser.add_argument("--no-records", action="store_true", help="People and teams only.")

    @transaction.atomic
    def handle(self, *args, no_records=False, **options):
        User = get_user_model()
        org, _ = Organization.objects.get_or_create(slug="oakland", defaults={"name": "City of Oakland"})
        programs, teams = {}, {}
        for code, label in Program.Code.choices:
            programs[code], _ = Program.objects.get_or_create(organization=org, code=code, defaults={"name": label})
            for team_code, name in TEAMS[code]:
                teams[team_code], _ = Team.objects.get_or_create(
                    program=programs[code], code=team_code, defaults={"name": name}
                )
        rows = []
        for username, program, team, role, (first, last) in USERS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"first_name": first, "last_name": last}
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                # A browser's field app registers its own device id at first sign-in: these let a demo
                # person sign in on a few browsers without an admin; a revoked device sets it back to 0.
                user.new_devices_allowed = DEMO_NEW_DEVICES
                user.save()
            Membership.objects.get_or_create(
                user=user, program=programs[program], is_active=True, defaults={"team": teams.get(team), "role": role}
            )
            Device.objects.get_or_create(
                id=demo_device_id(username),
                defaults={
                    "user": user,
                    "name": f"{username} phone",
                    "platform": "demo",
                    "approved_at": timezone.now(),
                    "approval": Device.Approval.ADMIN,
                },
            )
            rows.append((username, program, team or "(whole program)", role.label))
        admin, created = User.objects.get_or_create(username="admin", defaults={"is_staff": True, "is_superuser": True})
        if created:
            admin.set_password(DEMO_PASSWORD)
            admin.save()
        for program_admin in ("macro_admin", "dvp_admin"):
            User.objects.filter(username=program_admin).update(is_staff=True)

        if not no_records:
            counts = load_demo_records(org)
            self.stdout.write("Demo records: " + ", ".join(f"{n} {k}" for k, n in counts.items()))

        self.stdout.write(self.style.SUCCESS(f"Demo logins (password for all: {DEMO_PASSWORD})"))
        self.stdout.write(f"  {'username':18} {'program':8} {'team':18} role")
        for username, program, team, role in rows:
            self.stdout.write(f"  {username:18} {program:8} {team:18} {role}")
        self.stdout.write("  admin              (Django admin superuser)")
