"""What the sync endpoints read from a request, and the refusals docs/sync-protocol.md promises for it.

A push's envelope only (protocol, app version, the mutations list and its size): each mutation is read by the
push engine itself (sync/push.py::read_envelope), so one bad mutation is rejected alone, never the batch.
"""

from typing import Any

from backend.errors import DomainError
from backend.inputs import InputSerializer, Parsed

from .push import check_batch_size
from .watermelon import parse_last_pulled_at, parse_migration

MAX_CURSOR_CHARS = 8192
MAX_MIGRATION_CHARS = 65536


def _protocol(value: Any, name: str) -> int:
    """The client's protocol version, or 400 protocol_required (missing or not an integer)."""
    if value is None or value == "":
        raise DomainError("protocol_required", "Say which sync protocol version the app speaks (protocol=1).")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise DomainError("protocol_required", "protocol must be an integer.") from None


def _app_version(value: Any, name: str) -> str:
    return value if isinstance(value, str) else ""


def _mutations(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list):
        raise DomainError(
            "invalid_push",
            "mutations must be a list.",
            fields={"mutations": [{"code": "wrong_type", "message": "Expected a list."}]},
        )
    check_batch_size(value)  # 413 batch_too_large above SYNC_MAX_PUSH_MUTATIONS
    return value


def _limit(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise DomainError("invalid_limit", "limit must be an integer.") from None
    if limit < 1:
        raise DomainError("invalid_limit", "limit must be at least 1.")
    return limit


def _cursor(value: Any, name: str) -> str | None:
    if not value:
        return None
    if len(value) > MAX_CURSOR_CHARS:
        raise DomainError("invalid_cursor", "The cursor is not one this server issued; pull without one.")
    return str(value)


def _not_a_push() -> DomainError:
    return DomainError("invalid_push", "The body is an object with protocol and mutations.")


class PushHead(InputSerializer):
    """What a push says about itself: read before anything else, so a push in a protocol this server no longer
    speaks is kept whole (sync/push.py::quarantine_unsupported) whatever else it carries."""

    not_an_object = _not_a_push
    protocol = Parsed(_protocol)
    app_version = Parsed(_app_version)


class PushEnvelope(PushHead):
    """A push in a protocol this server speaks: the mutations are a list of at most SYNC_MAX_PUSH_MUTATIONS
    (413 batch_too_large)."""

    mutations = Parsed(_mutations)


class ProtocolQuery(InputSerializer):
    protocol = Parsed(_protocol)


class PullQuery(ProtocolQuery):
    """GET /sync/pull?protocol=1&cursor=...&limit=...: the cursor is checked for what it says by the pull
    engine (sync/pull.py), here only for its size."""

    cursor = Parsed(_cursor)
    limit = Parsed(_limit)


def _last_pulled_at(value: Any, name: str) -> int | None:
    return parse_last_pulled_at(value)


def _migration_tables(value: Any, name: str) -> set[str]:
    if value is not None and len(value) > MAX_MIGRATION_CHARS:
        raise DomainError("invalid_migration", "migration is too long.")
    return parse_migration(value)


class WatermelonPullQuery(InputSerializer):
    """GET /sync/watermelon/pull?last_pulled_at=...&migration=...: the checkpoint and the tables a schema
    migration asks for whole (docs/watermelondb.md)."""

    last_pulled_at = Parsed(_last_pulled_at)
    migration = Parsed(_migration_tables)
