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
from django.utils import timezone
from django.utils.translation import gettext as _

from backend.dates import try_parse_datetime, try_parse_moment
from records.redaction import hidden_fields
from sync.models import Mutation
from sync.services import mutation_replay, quarantine_queryset

from . import labels
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
        "message": result.get("message") or mutation.get_status_display(),
        "code": mutation.reason_code,
        "field_errors": [
            {
                "name": name,
                "label": labels.field_label(mutation.record_type, name),
                "messages": [e.get("message") or e.get("code") for e in errs if isinstance(e, dict)],
            }
            for name, errs in errors.items()
            if isinstance(errs, list)
        ],
        "author": labels.display_name(mutation.user),
        "fixed_by": labels.display_name(mutation.replayed_by) if mutation.replayed_by_id else "",
        "fields": fields,
        "errors": errors,
    }


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


def _local_input(value):
    """An ISO time as a datetime-local input's value, in the server's time zone."""
    parsed = try_parse_datetime(value)
    if parsed is None:
        return ""
    if timezone.is_aware(parsed):
        parsed = timezone.localtime(parsed)
    return parsed.strftime("%Y-%m-%dT%H:%M:%S")


def form_fields(mutation, item, titles=None):
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
        value = item["fields"].get(name)
        field = {
            **f,
            "input_name": f"f_{name}",
            "errors": [e.get("message") for e in item["errors"].get(name, []) if isinstance(e, dict)],
            "value": value,
        }
        kind = f["kind"]
        if kind == "datetime":
            field["input_value"] = _local_input(value)
        elif kind in ("items", "ids", "json"):
            field["input_value"] = json.dumps(value, ensure_ascii=False, indent=1) if value not in (None, "") else ""
        elif kind == "codes":
            field["checked"] = set(value or [])
        elif kind == "counts":
            counts = value if isinstance(value, dict) else {}
            field["counts"] = [{**c, "count": counts.get(c["value"], "")} for c in f.get("choices", [])]
        elif kind == "boolean":
            field["input_value"] = "" if value is None else ("true" if value else "false")
        else:
            field["input_value"] = "" if value is None else str(value)
        if kind == "reference" and value:
            field["current_title"] = (titles or {}).get(str(value), "")
        out.append(field)
    return out


def parse_form(fields, post):
    """The corrected values from the form, by the form description's kinds; ({name: value}, {name: message})."""
    values, problems = {}, {}
    for f in fields:
        name, kind, key = f["name"], f["kind"], f["input_name"]
        raw = post.get(key, "")
        try:
            if kind == "codes":
                allowed = {c["value"] for c in f.get("choices", [])}
                values[name] = [v for v in post.getlist(key) if v in allowed]
            elif kind == "counts":
                counts = {}
                for c in f.get("choices", []):
                    n = post.get(f"{key}__{c['value']}", "").strip()
                    if n:
                        counts[c["value"]] = int(n)
                values[name] = counts
            elif kind in ("items", "ids", "json"):
                values[name] = json.loads(raw) if raw.strip() else ([] if kind != "json" else None)
            elif kind == "boolean":
                values[name] = {"true": True, "false": False}.get(raw)
            elif kind == "datetime":
                if not raw:
                    values[name] = None
                else:
                    moment = try_parse_moment(raw)  # a datetime-local input's value is in the server's time zone
                    if moment is None:
                        raise ValueError(raw)
                    values[name] = moment.isoformat()
            elif kind == "decimal":
                values[name] = str(Decimal(raw)) if raw.strip() else None
            elif kind == "reference":
                values[name] = (int(raw) if raw.strip().isdigit() else raw.strip()) or None
            else:
                values[name] = raw
        except (ValueError, InvalidOperation, json.JSONDecodeError):
            problems[name] = _("This value cannot be read; check its format.")
    return values, problems


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
    fields = form_fields(mutation, item, titles) if mutation.op != "delete" else []
    status = 200
    if request.method == "POST":
        if mutation.status != Mutation.Status.REJECTED:
            messages.error(request, _("Only a rejected change can be resent."))
            return redirect("supervisor-quarantine")
        corrected, problems = parse_form(fields, request.POST)
        if not problems:
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
        for f in fields:
            f["errors"] = [problems[f["name"]]] if f["name"] in problems else f["errors"]
            if f["kind"] in ("items", "ids", "json", "datetime") or f["kind"] not in ("codes", "counts"):
                f["input_value"] = request.POST.get(f["input_name"], f.get("input_value", ""))
        status = 400
    return render(request, "review/quarantine_fix.html", {"item": item, "fields": fields}, status=status)
