"""Inputs for list values on the fix-and-resend form, built from the field app's form description.

The field app edits a list of items (people contacted, referrals, the unit's timeline, calls offered, victims)
as repeatable rows, one input per member, and a list of ids (crew, responders, linked incidents) with its own
controls. These pages have no scripts, so rows are drawn on the server: the rows sent plus an empty one, a
"Remove" box on each, and an "Add a row" button that draws the form again with one more. Nobody types JSON.
"""

from django.utils import timezone

from backend.dates import try_parse_datetime, try_parse_moment
from backend.validators import ISO_DATETIME
from records.access import scoped_queryset
from records.registry import get_spec
from responders.models import Membership

from . import labels
from .pages import KNOWN_TYPES

SPARE_ROWS = 1  # empty rows below the ones sent
RECENT_RECORDS = 20  # linkable records offered besides the linked ones
HIDDEN_MEMBERS = ("name",)  # as in the field app: real names only where a record already carries one


def local_input(value):
    """An ISO time as a datetime-local input's value, in the server's time zone."""
    parsed = try_parse_datetime(value)  # a phone may have sent a time that is no real one (30 February)
    if parsed is None:
        return ""
    if timezone.is_aware(parsed):
        parsed = timezone.localtime(parsed)
    return parsed.strftime("%Y-%m-%dT%H:%M:%S")


def aware_iso(raw):
    """A datetime-local input's value as an ISO time in the server's time zone (ValueError if unreadable)."""
    moment = try_parse_moment(raw)  # naive: the server's time zone
    if moment is None:
        raise ValueError(raw)
    return moment.isoformat()


# --- repeatable rows (kind "items") ------------------------------------------------------------------------


def _member_kind(shape, spec):
    if spec.get("choices"):
        return "choice"
    if isinstance(shape, dict) and shape.get("pattern") == ISO_DATETIME:
        return "datetime"
    return "text"


def item_members(f, items):
    """[{name, label, kind, choices, max_length, required}] of one row, in the description's order."""
    shapes = ((f.get("schema") or {}).get("items") or {}).get("properties") or {}
    required = set(f.get("item_required") or [])
    present = {m for item in items if isinstance(item, dict) for m, v in item.items() if v not in (None, "")}
    out = []
    for name, spec in (f.get("members") or {}).items():
        if name in HIDDEN_MEMBERS and name not in present:
            continue
        out.append(
            {
                "name": name,
                "label": spec["label"],
                "kind": _member_kind(shapes.get(name), spec),
                "choices": spec.get("choices") or [],
                "max_length": spec.get("max_length"),
                "required": name in required,
            }
        )
    return out


def rows_from_value(value):
    """The rows of a list value as the inputs show them (times in local datetime-local form)."""
    return [dict(item) for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def rows_from_post(field, post):
    """The rows as typed, without the ones marked for removal; (rows, how many rows the form had)."""
    key = field["input_name"]
    try:
        count = min(int(post.get(f"{key}__rows", "0")), 500)
    except ValueError:
        count = 0
    rows = []
    for i in range(max(count, 0)):
        if post.get(f"{key}__{i}__remove"):
            continue
        rows.append({m["name"]: post.get(f"{key}__{i}__{m['name']}", "").strip() for m in field["members"]})
    return rows


def draw_rows(field, rows, spare=SPARE_ROWS):
    """Fill field["rows"]: each row's inputs with their names and values, then `spare` empty rows."""
    key = field["input_name"]
    drawn = []
    for i, row in enumerate([*rows, *({} for _ in range(spare))]):
        cells = []
        for m in field["members"]:
            value = row.get(m["name"], "")
            if m["kind"] == "datetime" and _has_offset(value):
                value = local_input(value)
            cells.append({**m, "input_name": f"{key}__{i}__{m['name']}", "value": "" if value is None else str(value)})
        drawn.append({"index": i, "cells": cells, "remove_name": f"{key}__{i}__remove", "empty": not any(row.values())})
    field["rows"] = drawn
    field["rows_name"] = f"{key}__rows"


def _has_offset(value):
    """An ISO time as stored (with its offset), not one typed into a datetime-local input."""
    parsed = try_parse_datetime(value)
    return parsed is not None and timezone.is_aware(parsed)


def items_value(field, rows):
    """The list value of typed rows: empty members left out, empty rows dropped (ValueError on a bad time)."""
    out = []
    for row in rows:
        item = {}
        for m in field["members"]:
            raw = row.get(m["name"], "")
            if raw in (None, ""):
                continue
            item[m["name"]] = aware_iso(raw) if m["kind"] == "datetime" else raw
        if item:
            out.append(item)
    return out


# --- lists of ids (kind "ids"): checkboxes -------------------------------------------------------------------


def id_options(field, mutation, user, titles):
    """[{value, label}] to tick: the ids sent first, then the team's people or its latest linkable records."""
    sent = [str(v) for v in field["value"] or [] if v not in (None, "")] if isinstance(field["value"], list) else []
    target = get_spec(mutation.record_type).id_lists.get(field["name"]) if mutation.record_type in KNOWN_TYPES else None
    if target is None:  # people: the crew of a shift, the responders of a scene response
        people = labels.People()
        ids = list(
            Membership.objects.filter(team_id=mutation.team_id, is_active=True)
            .order_by("user__username")
            .values_list("user_id", flat=True)
        )
        people.add([int(i) for i in sent if i.isdigit()] + ids)
        values = [*sent, *(str(i) for i in ids if str(i) not in sent)]
        return [{"value": v, "label": people.name(int(v)) if v.isdigit() else v} for v in values]
    recent = (
        scoped_queryset(get_spec(target), user)
        .filter(team_id=mutation.team_id)
        .order_by("-server_received_at")[:RECENT_RECORDS]
    )
    named = dict(titles)
    for record in recent:
        named.setdefault(str(record.pk), labels.record_title(target, record))
    values = [*sent, *(str(r.pk) for r in recent if str(r.pk) not in sent)]
    return [{"value": v, "label": named.get(v) or labels.type_label(target)} for v in values]


def ids_value(field, post):
    """The ticked ids, in the options' order; people's ids as numbers, as the field app sends them."""
    offered = {o["value"] for o in field["options"]}
    ticked = [v for v in post.getlist(field["input_name"]) if v in offered]
    schema_items = (field.get("schema") or {}).get("items") or {}
    if schema_items.get("type") == "integer":
        return [int(v) for v in ticked if v.isdigit()]
    return ticked
