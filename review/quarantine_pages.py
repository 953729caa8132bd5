"""Quarantine: rejected changes with the server's message per field, and a form to fix and resend one.

The form is built from the field app's form description (fieldapp/forms.py, via review/labels.py): the same
labels, choices and kinds the crew saw. A resend is a replay on the original author's behalf
(sync/services.py::mutation_replay): the author stays the author, the supervisor is recorded as the one who
corrected it, in the mutation and in the audit trail.
"""

import json
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from records.redaction import hidden_fields
from sync.models import Mutation
from sync.services import mutation_replay, quarantine_queryset

from . import labels, list_inputs
from .access import supervisor_required
from .pages import reference_refs, titles_for


def _describe(mutation, user, people, titles):
    """What the rejected change was and why, in labels."""
    hidden = hidden_fields(mutation.record_type, user, mutation.program_id)
    payload = mutation.payload if isinstance(mutation.payload, dict) else {}
    fields = {k: v for k, v in (payload.get("fields") or {}).items() if k not in hidden}
    result = mutation.result if isinstance(mutation.result, dict) else {}
    errors = {k: v for k, v in (result.get("fields") or {}).items() if k not in hidden}
    return {
        "mutation": mutation,
        "op_label": {"create": _("New"), "update": _("Change to"), "delete": _("Deletion of")}.get(
            mutation.op, mutation.op
        ),
        "type_label": labels.type_label(mutation.record_type),
        "title": titles.get(str(mutation.record_id)) or labels.record_title(mutation.record_type, fields),
        "sent": labels.rows(mutation.record_type, fields, people, titles),
        "message": _server_words(result.get("message")) or mutation.get_status_display(),
        "code": mutation.reason_code,
        "field_errors": [
            {
                "name": name,
                "label": labels.field_label(mutation.record_type, name),
                "messages": [_server_words(e.get("message")) or e.get("code") for e in errs if isinstance(e, dict)],
            }
            for name, errs in errors.items()
            if isinstance(errs, list)
        ],
        "author": labels.display_name(mutation.user),
        "fixed_by": labels.display_name(mutation.replayed_by) if mutation.replayed_by_id else "",
        "fields": fields,
        "errors": errors,
    }


def _server_words(message):
    """The server's stored message in the page's language where a catalogue has it (the form description's rule
    messages, such as "A 911 dispatch needs its CAD number.", are translated in fieldapp/locale); else as stored."""
    return _(message) if isinstance(message, str) and message else message


def _refs(mutation):
    payload = mutation.payload if isinstance(mutation.payload, dict) else {}
    fields = payload.get("fields") if isinstance(payload.get("fields"), dict) else {}
    return [(mutation.record_type, mutation.record_id), *reference_refs(mutation.record_type, fields)]


@supervisor_required
def quarantine(request):
    rows = list(quarantine_queryset(request.user).select_related("user", "team", "replayed_by")[:200])
    people = labels.People()
    titles = titles_for(request.user, [ref for m in rows for ref in _refs(m)])
    return render(
        request, "review/quarantine.html", {"items": [_describe(m, request.user, people, titles) for m in rows]}
    )


# --- the fix-and-resend form -------------------------------------------------------------------------------


def form_fields(mutation, item, titles=None, user=None):
    """The inputs to show: every field sent, every field the server named, and on a create the required ones."""
    form = labels.forms().get(mutation.record_type)
    if form is None:
        return []
    wanted = set(item["fields"]) | set(item["errors"])
    out = []
    for name, f in form["fields"].items():
        if name not in wanted and not (mutation.op == "create" and f["required"]):
            continue
        if f.get("restricted_to") and name not in item["fields"] and name not in item["errors"]:
            continue
        field = {
            **f,
            "input_name": f"f_{name}",
            "errors": [_server_words(e.get("message")) for e in item["errors"].get(name, []) if isinstance(e, dict)],
            "value": item["fields"].get(name),
        }
        _prepare_input(field, mutation, titles or {}, user)
        out.append(field)
    return out


def _prepare_input(field, mutation, titles, user):
    """What one input shows, by the form description's kind (the field app's controls, drawn on the server)."""
    kind, value = field["kind"], field["value"]
    if kind == "datetime":
        field["input_value"] = list_inputs.local_input(value)
    elif kind == "items":
        field["members"] = list_inputs.item_members(field, value if isinstance(value, list) else [])
        list_inputs.draw_rows(field, list_inputs.rows_from_value(value))
    elif kind == "ids":
        field["options"] = list_inputs.id_options(field, mutation, user, titles)
        field["checked"] = {str(v) for v in value} if isinstance(value, list) else set()
    elif kind == "json":  # a value with no shape in the description (none today): shown and sent as JSON
        field["input_value"] = json.dumps(value, ensure_ascii=False, indent=1) if value not in (None, "") else ""
    elif kind == "codes":
        field["checked"] = set(value or [])
    elif kind == "counts":
        counts = value if isinstance(value, dict) else {}
        field["counts"] = [{**c, "count": counts.get(c["value"], "")} for c in field.get("choices", [])]
    elif kind == "boolean":
        field["input_value"] = "" if value is None else ("true" if value else "false")
    else:
        field["input_value"] = "" if value is None else str(value)
    if kind == "reference" and value:
        field["current_title"] = titles.get(str(value), "")


def _value(f, post):
    """One field's corrected value from the form (ValueError and friends when it cannot be read)."""
    kind, key = f["kind"], f["input_name"]
    raw = post.get(key, "")
    if kind == "codes":
        allowed = {c["value"] for c in f.get("choices", [])}
        return [v for v in post.getlist(key) if v in allowed]
    if kind == "counts":
        counts = {}
        for c in f.get("choices", []):
            n = post.get(f"{key}__{c['value']}", "").strip()
            if n:
                counts[c["value"]] = int(n)
        return counts
    if kind == "items":
        return list_inputs.items_value(f, list_inputs.rows_from_post(f, post))
    if kind == "ids":
        return list_inputs.ids_value(f, post)
    if kind == "json":
        return json.loads(raw) if raw.strip() else None
    if kind == "boolean":
        return {"true": True, "false": False}.get(raw)
    if kind == "datetime":
        return list_inputs.aware_iso(raw) if raw else None
    if kind == "decimal":
        return str(Decimal(raw)) if raw.strip() else None
    if kind == "reference":
        return (int(raw) if raw.strip().isdigit() else raw.strip()) or None
    return raw


def parse_form(fields, post):
    """The corrected values from the form, by the form description's kinds; ({name: value}, {name: message})."""
    values, problems = {}, {}
    for f in fields:
        try:
            values[f["name"]] = _value(f, post)
        except (ValueError, InvalidOperation, json.JSONDecodeError):
            problems[f["name"]] = _("This value cannot be read; check its format.")
    return values, problems


def _as_typed(fields, post, problems, more=""):
    """The form drawn again with what was typed, each field's message beside it; `more` gets one more row."""
    for f in fields:
        f["errors"] = [problems[f["name"]]] if f["name"] in problems else f["errors"]
        kind = f["kind"]
        if kind == "items":
            rows = [row for row in list_inputs.rows_from_post(f, post) if any(row.values())]
            list_inputs.draw_rows(f, rows, spare=list_inputs.SPARE_ROWS + (f["name"] == more))
        elif kind in ("codes", "ids"):
            f["checked"] = set(post.getlist(f["input_name"]))
        elif kind == "counts":
            f["counts"] = [{**c, "count": post.get(f"{f['input_name']}__{c['value']}", "")} for c in f["counts"]]
        else:
            f["input_value"] = post.get(f["input_name"], f.get("input_value", ""))


def _item_for(request, mutation_id):
    mutation = (
        quarantine_queryset(request.user).select_related("user", "team", "replayed_by").filter(pk=mutation_id).first()
    )
    if mutation is None:
        raise Http404
    people = labels.People()
    titles = titles_for(request.user, _refs(mutation))
    return mutation, _describe(mutation, request.user, people, titles), titles


@supervisor_required
def quarantine_fix(request, mutation_id):
    mutation, item, titles = _item_for(request, mutation_id)
    fields = form_fields(mutation, item, titles, request.user) if mutation.op != "delete" else []
    status = 200
    if request.method == "POST":
        if mutation.status != Mutation.Status.REJECTED:
            messages.error(request, _("Only a rejected change can be resent."))
            return redirect("supervisor-quarantine")
        more = request.POST.get("add_row", "")
        corrected, problems = parse_form(fields, request.POST)
        if not problems and not more:
            return _resend(request, mutation, item, corrected)
        _as_typed(fields, request.POST, problems, more)
        status = 400 if problems else 200
    return render(request, "review/quarantine_fix.html", {"item": item, "fields": fields}, status=status)


def _resend(request, mutation, item, corrected):
    # Values hidden from the reader (a restricted field) go back as the author sent them.
    sent = dict((mutation.payload or {}).get("fields") or {})
    result = mutation_replay(
        mutation_id=mutation.pk,
        actor=request.user,
        fields={**sent, **corrected} if mutation.op != "delete" else None,
        request=request,
    )
    if result["status"] == Mutation.Status.REJECTED:
        messages.error(request, _("The server still refuses it: %(message)s") % {"message": result["message"]})
        return redirect("supervisor-quarantine-fix", mutation_id=result["mutation_id"])
    messages.success(
        request,
        _("Resent on behalf of %(author)s: %(status)s.")
        % {"author": item["author"], "status": Mutation.Status(result["status"]).label},
    )
    return redirect("supervisor-quarantine")
