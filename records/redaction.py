"""Field walls on every copy of a value: the one place that decides which record fields a person may see.

A restricted field (RecordSpec.restricted, e.g. an incident's police case number, DVP coordinators only) is
hidden wherever a record's values leave the server: the record itself (to_wire: REST, pull, WatermelonDB
pull), conflicts (base, server, incoming and resolved values), quarantined mutations (their payload's fields
and merge base, and the field errors of their result), amendments (their changes), and the supervisor pages
that show any of these. Deny by default: when the program is unknown, the field is hidden.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from backend.errors import DomainError
from responders import selectors

from .registry import get_spec

if TYPE_CHECKING:
    from .models import Amendment, Conflict

HIDDEN = "(hidden)"  # what a page shows in place of a value the reader may not see


def hidden_fields(record_type: str, user: Any, program_id: int | None) -> frozenset[str]:
    """Names of the fields of this record type that `user` may not see in `program_id`."""
    try:
        spec = get_spec(record_type)
    except DomainError:
        return frozenset()
    if not spec.restricted:
        return frozenset()
    role = selectors.role_in_program(user, program_id) if program_id is not None else None
    return frozenset(name for name, roles in spec.restricted.items() if role not in roles)


def redact_fields(record_type: str, values: Any, user: Any, program_id: int | None) -> Any:
    """A copy of {field: value} without the fields the user may not see (values itself when nothing is hidden)."""
    if not isinstance(values, dict):
        return values
    hidden = hidden_fields(record_type, user, program_id)
    if not hidden or hidden.isdisjoint(values):
        return values
    return {name: value for name, value in values.items() if name not in hidden}


CONFLICT_VALUES = ("base_value", "server_value", "incoming_value", "resolved_value")


def redact_conflict(data: dict[str, Any], conflict: Conflict, user: Any) -> dict[str, Any]:
    """A conflict's serialized form with its values nulled when its field is hidden from the user."""
    hidden = conflict.field in hidden_fields(conflict.record_type, user, conflict.program_id)
    data["redacted"] = hidden
    if hidden:
        for name in CONFLICT_VALUES:
            data[name] = None
    return data


def redact_mutation(data: dict[str, Any], mutation: Any, user: Any) -> dict[str, Any]:
    """A quarantined mutation's serialized form: hidden fields out of payload.fields, payload._base and the
    result's field errors."""
    hidden = hidden_fields(mutation.record_type, user, mutation.program_id)
    payload = data.get("payload")
    if hidden and isinstance(payload, dict):
        payload = dict(payload)
        for key in ("fields", "_base"):
            if isinstance(payload.get(key), dict):
                payload[key] = {k: v for k, v in payload[key].items() if k not in hidden}
        data["payload"] = payload
    result = data.get("result")
    if hidden and isinstance(result, dict) and isinstance(result.get("fields"), dict):
        data["result"] = {**result, "fields": {k: v for k, v in result["fields"].items() if k not in hidden}}
    return data


def redact_amendment(data: dict[str, Any], amendment: Amendment, user: Any) -> dict[str, Any]:
    """An amendment's serialized form without hidden fields in its changes."""
    data["changes"] = redact_fields(amendment.record_type, data.get("changes"), user, amendment.program_id)
    return data
