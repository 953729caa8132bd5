"""Record types the sync engine and the REST API know, with a merge policy per field.

Each app declares its types (incidents/specs.py); the
engine, the REST views and the data dictionary all read them from here, so a
field's validation, wire form and merge rule are declared once.
"""

import copy
from dataclasses import dataclass, field
from typing import Any

from rest_framework import serializers

from backend.errors import DomainError


class Policy:
    """How a field merges when two sides changed it since the same base."""

    SCALAR = "scalar"  # the value first in server order stays; the other becomes a conflict record
    SET = "set"  # three-way set merge: additions and removals of both sides
    LIST = "list"  # list of objects, merged like a set of items
    COUNTS = "counts"  # {code: count}: both sides' increments add up
    TEXT = "text"  # free text: three-way merge by sentence; a passage both sides changed is kept twice, marked
    STATUS = "status"  # follows the record's state machine; a move it forbids becomes a conflict

    ALL = (SCALAR, SET, LIST, COUNTS, TEXT, STATUS)


@dataclass
class RecordSpec:
    name: str
    model: Any  # a records.base.SyncedRecord subclass; Any, as its fields are read by name (_meta.get_field)
    programs: frozenset[str]
    policies: dict[str, str]
    # Fields only some roles may read or write: field -> set of roles.
    restricted: dict[str, set[str]] = field(default_factory=dict)
    # Status machine for STATUS fields: field -> {from: {allowed to}}.
    transitions: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    # Foreign keys to other synced records: field -> spec name (must be visible to the writer).
    references: dict[str, str] = field(default_factory=dict)
    # JSON lists of ids of other synced records: field -> spec name (each visible to the writer, same team).
    id_lists: dict[str, str] = field(default_factory=dict)
    # Fields naming people (a foreign key to a user, or a JSON list of user ids): active members of the program.
    people: tuple[str, ...] = ()
    # The shift whose approval locks this record: "shift" (a field), "self" (a Shift), or None.
    lock: str | None = "shift"
    # Server-owned fields shown on the wire but never written by clients.
    read_only: tuple[str, ...] = ()
    # Extra serializer field overrides for input parsing.
    extra_input_fields: dict[str, Any] = field(default_factory=dict)
    # The type's input serializer class; built from the model in __post_init__ unless given.
    input_serializer: Any = None
    order: int = 0

    def __post_init__(self) -> None:
        for name, policy in self.policies.items():
            if policy not in Policy.ALL:
                raise ValueError(f"{self.name}.{name}: unknown policy {policy}")
        if self.input_serializer is None:
            self.input_serializer = build_input_serializer(self)

    @property
    def writable(self) -> tuple[str, ...]:
        return tuple(self.policies)

    def lock_shift(self, instance: Any) -> Any:
        if self.lock == "self":
            return instance
        if self.lock:
            return getattr(instance, self.lock, None)
        return None


REGISTRY: dict[str, RecordSpec] = {}


def register(spec: RecordSpec) -> RecordSpec:
    if spec.name in REGISTRY:
        raise ValueError(f"record type {spec.name} registered twice")
    spec.order = len(REGISTRY)
    REGISTRY[spec.name] = spec
    return spec


def get_spec(name: Any) -> RecordSpec:
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise DomainError(
            "unknown_record_type", f"Unknown record type. Known: {', '.join(sorted(REGISTRY))}."
        ) from None


def spec_for_model(model: Any) -> RecordSpec:
    return next(s for s in REGISTRY.values() if s.model is model)


def ordered_specs() -> list[RecordSpec]:
    return sorted(REGISTRY.values(), key=lambda s: s.order)


def build_input_serializer(spec: RecordSpec) -> type["CachedFieldsModelSerializer"]:
    """A ModelSerializer over the writable fields: types, lengths, choices and JSON shapes, from the model."""
    model = spec.model
    fk_names = {f.name for f in model._meta.fields if f.is_relation}
    extra_kwargs: dict[str, dict[str, Any]] = {}
    for name in spec.policies:
        extra_kwargs[name] = {"required": False}
        if name in fk_names:
            extra_kwargs[name]["allow_null"] = model._meta.get_field(name).null

    attrs = {
        "Meta": type("Meta", (), {"model": model, "fields": list(spec.policies), "extra_kwargs": extra_kwargs}),
        **spec.extra_input_fields,
    }
    # Relations are resolved against every row; scope is checked by the service, which answers not_found
    # for rows the writer cannot see, so existence never leaks.
    for name in spec.policies:
        if name in fk_names:
            related = model._meta.get_field(name).related_model
            attrs[name] = serializers.PrimaryKeyRelatedField(
                queryset=related._base_manager.all(), required=False, allow_null=model._meta.get_field(name).null
            )
    return type(f"{model.__name__}Input", (CachedFieldsModelSerializer,), attrs)


class CachedFieldsModelSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]  # one per model
    """A ModelSerializer that introspects its model once per class, not once per instance.

    Sync validates every mutation with a new serializer; building the fields from the model each time
    cost more than the database work. Each instance still gets its own deep copy of the fields.
    """

    _fields_template: dict[str, Any] | None = None

    def get_fields(self) -> dict[str, Any]:
        cls = type(self)
        template = cls.__dict__.get("_fields_template")  # this class's own, not a parent's
        if template is None:
            template = cls._fields_template = super().get_fields()
        return copy.deepcopy(template)
