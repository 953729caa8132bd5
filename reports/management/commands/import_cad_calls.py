from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from backend.errors import DomainError
from reports.cad import cad_import
from responders.models import Program


class Command(BaseCommand):
    help = "Import a CSV of CAD calls (see docs/reports.md): every row or none."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--program", default="MACRO", choices=Program.Code.values)
        parser.add_argument("--as-user", required=True, help="Username recorded as the importer (audited).")

    def handle(self, *args, path, program, as_user, **options):
        actor = get_user_model().objects.filter(username=as_user).first()
        if actor is None:
            raise CommandError(f"No user {as_user}.")
        try:
            result = cad_import(
                program=Program.objects.get(code=program), actor=actor, text=Path(path).read_text(encoding="utf-8")
            )
        except DomainError as exc:
            for error in exc.extra.get("errors", []):
                self.stderr.write(f"line {error['line']}: {error['message']}")
            raise CommandError(exc.message) from exc
        self.stdout.write(self.style.SUCCESS(f"Imported: {result['created']} new, {result['updated']} updated."))
