"""A membership's team must be in the membership's program, enforced by the database for every writer.

A CheckConstraint cannot look at another table, so on PostgreSQL the membership gets a composite foreign key
(team_id, program_id) referencing the team's unique (id, program_id): a MACRO membership on a DVP team has no
team row to point at. Checked at each statement, not deferred to commit. A membership without a team is not checked (MATCH SIMPLE: a NULL team_id skips it).
SQLite cannot add a foreign key to an existing table, so there two triggers refuse the same rows.

Rows that already break the rule stop the migration with their ids: which program such a person belongs to is
a program admin's decision, not a migration's.
"""

from django.db import migrations, models

PG_FORWARD = """
ALTER TABLE responders_membership
    ADD CONSTRAINT membership_team_in_its_program FOREIGN KEY (team_id, program_id)
    REFERENCES responders_team (id, program_id) ON DELETE NO ACTION ON UPDATE NO ACTION;
"""
PG_BACKWARD = "ALTER TABLE responders_membership DROP CONSTRAINT IF EXISTS membership_team_in_its_program;"

SQLITE_FORWARD = [
    f"""
CREATE TRIGGER membership_team_in_its_program_{op.lower()} BEFORE {op} ON responders_membership
FOR EACH ROW WHEN NEW.team_id IS NOT NULL
    AND (SELECT program_id FROM responders_team WHERE id = NEW.team_id) IS NOT NEW.program_id
BEGIN
    SELECT RAISE(ABORT, 'membership_team_in_its_program: the team belongs to another program');
END;
"""
    for op in ("INSERT", "UPDATE")
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS membership_team_in_its_program_insert;",
    "DROP TRIGGER IF EXISTS membership_team_in_its_program_update;",
]


def forward(apps, schema_editor):
    Membership = apps.get_model("responders", "Membership")
    broken = list(
        Membership.objects.filter(team__isnull=False)
        .exclude(team__program_id=models.F("program_id"))
        .values_list("pk", flat=True)
    )
    if broken:
        raise RuntimeError(
            f"Memberships {broken} have a team of another program; give each the right program or team first."
        )
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FORWARD)
    elif vendor == "sqlite":
        for sql in SQLITE_FORWARD:
            schema_editor.execute(sql)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD)
    elif vendor == "sqlite":
        for sql in SQLITE_BACKWARD:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("responders", "0005_device_approval_and_policy")]

    operations = [
        migrations.AddConstraint(
            model_name="team",
            constraint=models.UniqueConstraint(fields=("id", "program"), name="team_id_program_unique"),
        ),
        migrations.RunPython(forward, backward),
    ]
