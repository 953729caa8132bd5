"""Records as people read them: field labels and choice labels from the field app's form description.

The pages never show a code where a label exists: they read the same description the field app renders its
forms from (fieldapp/forms.py), so a label changed there changes here, in English and in Spanish.
"""

import datetime
import json

from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from backend.dates import try_parse_datetime, try_parse_day
from fieldapp.forms import describe
from responders.models import User

_FORMS = {}


def forms():
    """{type: {"label", "fields": {name: field description}, "rules"}} in the active language (cached)."""
    lang = translation.get_language() or "en"
    if lang not in _FORMS:
        _FORMS[lang] = {t["type"]: {**t, "fields": {f["name"]: f for f in t["fields"]}} for t in describe()["types"]}
    return _FORMS[lang]


def type_label(record_type):
    form = forms().get(record_type)
    return form["label"] if form else record_type


def field_label(record_type, name):
    if name == "_deleted":
        return _("Deleted")
    f = forms().get(record_type, {}).get("fields", {}).get(name)
    return f["label"] if f else name.replace("_", " ").capitalize()


def _choice(choices, value):
    for c in choices or ():
        if c["value"] == value:
            return c["label"]
    return str(value)


def when(value, with_date=True):
    if isinstance(value, str):
        value = try_parse_datetime(value) or value
    if isinstance(value, datetime.datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
        return formats.date_format(value, "D j M Y, H:i" if with_date else "H:i")
    return str(value)


def day(value):
    if isinstance(value, str):
        value = try_parse_day(value) or value
    if isinstance(value, datetime.date):
        return formats.date_format(value, "D j M Y")
    return str(value)


class People:
    """User id -> the name to show, fetched once per page."""

    def __init__(self, ids=()):
        self.names = {}
        self.add(ids)

    def add(self, ids):
        missing = {i for i in ids if isinstance(i, int) and i not in self.names}
        for user in User.objects.filter(pk__in=missing).only("id", "username", "first_name", "last_name"):
            self.names[user.pk] = display_name(user)

    def name(self, user_id):
        if user_id not in self.names:
            self.add([user_id])
        return self.names.get(user_id, _("someone (id %(id)s)") % {"id": user_id})


def display_name(user):
    if user is None:
        return ""
    full = f"{user.first_name} {user.last_name}".strip()
    return f"{full} ({user.username})" if full else user.username


def value_text(record_type, name, value, people=None, titles=None):
    """One field's value as a reader should see it: labels for codes, names for people, local times."""
    if value is None or value == "" or value == [] or value == {}:
        return ""
    if name == "_deleted":
        return _("Deleted") if value else _("Not deleted")
    f = forms().get(record_type, {}).get("fields", {}).get(name)
    if f is None:
        return value if isinstance(value, str) else json.dumps(value, default=str)
    text = _KINDS.get(f["kind"], _plain)(f, name, value, people or People(), titles or {})
    return _plain(f, name, value, people, titles) if text is None else text


def _plain(f, name, value, people, titles):
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)


def _codes_text(f, name, value, people, titles):
    return ", ".join(_choice(f.get("choices"), v) for v in value) if isinstance(value, list) else None


def _counts_text(f, name, value, people, titles):
    if not isinstance(value, dict):
        return None
    return ", ".join(f"{_choice(f.get('choices'), k)}: {n}" for k, n in value.items())


def _ids_text(f, name, value, people, titles):
    if not isinstance(value, list):
        return None
    if name in ("crew", "responders"):
        return ", ".join(people.name(v) for v in value)
    return ", ".join(titles.get(str(v), _("a linked record")) for v in value)


def _reference_text(f, name, value, people, titles):
    if f.get("references") in ("user",) or name == "assigned_to":
        return people.name(value)
    return titles.get(str(value), _("a linked record"))


def _items_text(f, name, value, people, titles):
    if not isinstance(value, list):
        return None
    members = f.get("members", {})
    parts = []
    for item in value:
        if not isinstance(item, dict):
            continue
        bits = []
        order = [m for m in members if m in item] + [m for m in item if m not in members]
        for member in order:
            v = item[member]
            if v in (None, ""):
                continue
            m = members.get(member, {})
            if "choices" in m:
                v = _choice(m["choices"], v)
            elif member in ("at", "offered_at"):
                v = when(v, with_date=False)
            bits.append(str(v))
        parts.append(" · ".join(bits))
    return "; ".join(parts)


_KINDS = {
    "choice": lambda f, name, value, people, titles: _choice(f.get("choices"), value),
    "boolean": lambda f, name, value, people, titles: _("Yes") if value else _("No"),
    "datetime": lambda f, name, value, people, titles: when(value),
    "date": lambda f, name, value, people, titles: day(value),
    "codes": _codes_text,
    "counts": _counts_text,
    "ids": _ids_text,
    "reference": _reference_text,
    "items": _items_text,
}


def rows(record_type, data, people=None, titles=None, skip=()):
    """[(label, text)] of the non-empty fields of `data`, in the form's order."""
    form = forms().get(record_type)
    out = []
    names = list(form["fields"]) if form else list(data)
    for name in names:
        if name in skip or name not in data:
            continue
        text = value_text(record_type, name, data[name], people, titles)
        if text != "":
            out.append((field_label(record_type, name), text))
    return out


def record_title(record_type, record, people=None):
    """A record named as a person would name it: type, day, place (never its id)."""
    label = type_label(record_type)
    get = record.get if isinstance(record, dict) else lambda n, d=None: getattr(record, n, d)
    bits = [label]
    if record_type == "shift":
        bits = [label, get("call_sign") or "", day(_date_of(get("started_at")))]
    elif record_type == "engagement":
        origin = value_text("engagement", "origin", get("origin"))
        bits += [origin, when(get("on_scene_at") or get("received_at") or get("server_received_at") or "")]
    elif record_type == "incident":
        bits += [
            get("dvp_number") or "",
            value_text("incident", "kind", get("kind")),
            day(_date_of(get("occurred_at"))),
        ]
    elif record_type == "scene_response":
        bits += [when(get("arrived_at") or "")]
    elif record_type == "follow_up_case":
        persons = get("persons") or []
        alias = ", ".join(p.get("alias") or p.get("initials") or "" for p in persons if isinstance(p, dict))
        bits += [alias, value_text("follow_up_case", "status", get("status"))]
    elif record_type == "contact_attempt":
        bits += [when(get("attempted_at") or ""), value_text("contact_attempt", "outcome", get("outcome"))]
    place = get("address") or get("cross_street")
    if place:
        bits.append(place)
    return " · ".join(b for b in bits if b)


def _date_of(value):
    if isinstance(value, str):
        value = try_parse_datetime(value) or value
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value or ""


def member_label(record_type, name, member, value):
    """The label of a code inside a JSON list item (a timeline status, a call decision)."""
    f = forms().get(record_type, {}).get("fields", {}).get(name, {})
    return _choice(f.get("members", {}).get(member, {}).get("choices"), value) if value not in (None, "") else ""
