"""Record types the sync engine and the REST API know, with a merge policy per field.

Each app declares its types (incidents/specs.py); the
engine, the REST views and the data dictionary all read them from here, so a
field's validation, wire form and merge rule are declared once.
"""

import copy
from dataclasses import dataclass, field

from django.db import models
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
    model: type[models.Model]
    programs: frozenset
    policies: dict
    # Fields only some roles may read or write: field -> set of roles.
    restricted: dict = field(default_factory=dict)
    # Status machine for STATUS fields: field -> {from: {allowed to}}.
    transitions: dict = field(default_factory=dict)
    # Foreign keys to other synced records: field -> spec name (must be visible to the writer).
    references: dict = field(default_factory=dict)
    # JSON lists of ids of other synced records: field -> spec name (each visible to the writer, same team).
    id_lists: dict = field(default_factory=dict)
    # Fields naming people (a foreign key to a user, or a JSON list of user ids): active members of the program.
    people: tuple = ()
    # The shift whose approval locks this record: "shift" (a field), "self" (a Shift), or None.
    lock: str | None = "shift"
    # Server-owned fields shown on the wire but never written by clients.
    read_only: tuple = ()
    # Extra serializer field overrides for input parsing.
    extra_input_fields: dict = field(default_factory=dict)
    input_serializer: type | None = None
    order: int = 0

    def __post_init__(self):
        for name, policy in self.policies.items():
            if policy not in Policy.ALL:
                raise ValueError(f"{self.name}.{name}: unknown policy {policy}")
        if self.input_serializer is None:
            self.input_serializer = build_input_serializer(self)

    @property
    def writable(self):
        return tuple(self.policies)

    def lock_shift(self, instance):
        if self.lock == "self":
            return instance
        if self.lock:
            return getattr(instance, self.lock, None)
        return None


REGISTRY: dict[str, RecordSpec] = {}


def register(spec):
    if spec.name in REGISTRY:
        raise ValueError(f"record type {spec.name} registered twice")
    spec.order = len(REGISTRY)
    REGISTRY[spec.name] = spec
    return spec


def get_spec(name):
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise DomainError(
            "unknown_record_type", f"Unknown record type. Known: {', '.join(sorted(REGISTRY))}."
        ) from None


def spec_for_model(model):
    return next(s for s in REGISTRY.values() if s.model is model)


def ordered_specs():
    return sorted(REGISTRY.values(), key=lambda s: s.order)


def build_input_serializer(spec):
    """A ModelSerializer over the writable fields: types, lengths, choices and JSON shapes, from the model."""
    model = spec.model
    fk_names = {f.name for f in model._meta.fields if f.is_relation}
    extra_kwargs = {}
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


class CachedFieldsModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer that introspects its model once per class, not once per instance.

    Sync validates every mutation with a new serializer; building the fields from the model each time
    cost more than the database work. Each instance still gets its own deep copy of the fields.
    """

    _fields_template = None

    def get_fields(self):
        cls = type(self)
        if cls.__dict__.get("_fields_template") is None:
            cls._fields_template = super().get_fields()
        return copy.deepcopy(cls._fields_template)
