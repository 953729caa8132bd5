"""Input serializers: DRF serializers that only read a request's input (a JSON body or query parameters) into
validated values, never write anything.

The endpoints' refusals are part of the contract (docs/api.md, docs/sync-protocol.md, docs/reports.md): each
has its own machine code (`invalid_limit`, `invalid_date`, `protocol_required`, ...), not DRF's generic
`validation_error`. So an input's field here is a `Parsed` field: a parser function that returns the value or
raises the `DomainError` the docs name. Fields are read in the order they are declared, and the first refusal
is the answer; `validate()` holds the rules between fields (a period's start before its end).
"""

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from rest_framework import serializers

from .errors import DomainError

Parser = Callable[[Any, str], Any]


class Parsed(serializers.Field):  # type: ignore[type-arg]
    """One input value read by `parse(value, name)`: the raw value (None when absent) and the input's name.

    The parser decides what absence means (a default, or a refusal), so an absent value reaches it too."""

    def __init__(self, parse: Parser, **kwargs: Any) -> None:
        self.parse = parse
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def get_value(self, dictionary: Mapping[str, Any]) -> Any:
        return dictionary.get(self.field_name)  # a query's last value, as QueryDict.get gives it

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        return False, data  # never skipped: the parser reads absent and empty values itself

    def to_internal_value(self, data: Any) -> Any:
        return self.parse(data, self.field_name)

    def to_representation(self, value: Any) -> Any:
        return value


class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Reads one endpoint's input: `Input.parse(request.data)` or `Input.parse(request.query_params)`."""

    # What a body that is not a JSON object answers; None reads it as an empty object (every input absent).
    not_an_object: ClassVar[Callable[[], DomainError] | None] = None

    @classmethod
    def parse(cls, data: Any) -> dict[str, Any]:
        if not isinstance(data, Mapping):
            if cls.not_an_object is not None:
                raise cls.not_an_object()
            data = {}
        serializer = cls(data=data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)
