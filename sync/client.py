"""A reference sync client: what a phone app does, in plain Python.

Integrators can read it next to docs/sync-protocol.md; the tests and the
`simulate_field_day` command drive devices with it. It keeps a local copy of
the records in scope as last pulled, its own answered edits on top of them
until the next pull brings them back, and an outbox of mutations numbered in
edit order. It pushes the outbox in batches (after a lost answer, the same
outbox again), and pulls only when everything it pushed has been answered.

    client = SyncClient(HttpTransport("http://127.0.0.1:8000", access_token))
    rid = client.create("engagement", {"origin": "on_view", "needs": ["housing"]})
    client.sync()
"""

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PROTOCOL = 1
# Answers whose edit is now part of the record (as sent, or merged, or taken in as a conflict).
KEPT_ON_RECORD = {"applied", "unchanged", "merged", "conflict"}


class SyncError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


class HttpTransport:
    """JSON over HTTP with a bearer token (urllib: no dependency beyond the standard library)."""

    def __init__(self, base_url: str, token: str | None, timeout: float = 30) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("The server URL must be http:// or https://")
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def __call__(
        self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        url = self.base_url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - http(s) only, set by caller
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")


@dataclass
class Outgoing:
    mutation_id: str
    seq: int
    type: str
    op: str
    id: str
    fields: dict[str, Any]
    base_version: int | None = None
    team: int | None = None

    def wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "mutation_id": self.mutation_id,
            "seq": self.seq,
            "type": self.type,
            "op": self.op,
            "id": self.id,
            "fields": self.fields,
        }
        if self.base_version is not None:
            body["base_version"] = self.base_version
        if self.team is not None:
            body["team"] = self.team
        return body


@dataclass
class SyncClient:
    transport: Callable[..., tuple[int, Any]]
    batch_size: int = 100
    # (type, id) -> the record as last pulled (the server's copy)
    records: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # (type, id) -> fields of this device's edits the server answered, shown on the record until a pull brings it
    acked: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    outbox: list[Outgoing] = field(default_factory=list)  # Outgoing, in seq order
    behind: bool = False  # the last pull said changes wait behind a sync write still open
    next_seq: int = 1
    cursor: str | None = None
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # mutation_id -> final result from the server

    # --- local edits ----------------------------------------------------
    def _queue(
        self,
        type_: str,
        op: str,
        record_id: Any,
        fields: dict[str, Any],
        base_version: int | None = None,
        team: int | None = None,
    ) -> Outgoing:
        out = Outgoing(str(uuid.uuid4()), self.next_seq, type_, op, str(record_id), dict(fields), base_version, team)
        self.next_seq += 1
        self.outbox.append(out)
        return out

    def create(self, type_: str, fields: dict[str, Any], team: int | None = None, record_id: Any = None) -> str:
        new_id = str(record_id or uuid.uuid4())
        self._queue(type_, "create", new_id, fields, team=team)
        return new_id

    def update(self, type_: str, record_id: Any, fields: dict[str, Any]) -> Outgoing:
        """Queue changed fields, based on the version this device last pulled."""
        server_copy = self.records.get((type_, str(record_id)))
        return self._queue(
            type_, "update", record_id, fields, base_version=server_copy["version"] if server_copy else None
        )

    def delete(self, type_: str, record_id: Any) -> Outgoing:
        server_copy = self.records.get((type_, str(record_id)))
        return self._queue(type_, "delete", record_id, {}, base_version=server_copy["version"] if server_copy else None)

    def view(self, type_: str, record_id: Any) -> dict[str, Any] | None:
        """What the person sees: the last pulled record with this device's own edits on top (those answered but
        not yet pulled back, then those still in the outbox)."""
        key = (type_, str(record_id))
        record = dict(self.records[key]) if key in self.records else None
        for fields in self.acked.get(key, []):
            if record is not None:
                record.update(fields)
        for m in self.outbox:
            if (m.type, m.id) != key:
                continue
            if m.op == "delete":
                record = None
            elif m.op == "create":
                record = {"type": type_, "id": m.id, "version": None, **m.fields}
            elif record is not None:
                record.update(m.fields)
        return record

    # --- sync -------------------------------------------------------------
    def push(self) -> list[dict[str, Any]]:
        """Send the outbox in batches until everything is answered (or only waiting mutations remain)."""
        answered: list[dict[str, Any]] = []
        while self.outbox:
            batch = self.outbox[: self.batch_size]
            status, body = self.transport(
                "POST", "/api/v1/sync/push", {"protocol": PROTOCOL, "mutations": [m.wire() for m in batch]}
            )
            if status != 200:
                raise SyncError(status, body)
            done: set[str] = set()
            sent = {m.mutation_id: m for m in batch}
            for result in body["results"]:
                if result["status"] == "pending":
                    continue
                self.results[result["mutation_id"]] = result
                done.add(result["mutation_id"])
                answered.append(result)
                m = sent.get(result["mutation_id"])
                if m is not None and m.op != "delete" and result["status"] in KEPT_ON_RECORD:
                    self.acked.setdefault((m.type, m.id), []).append(m.fields)
            self.outbox = [m for m in self.outbox if m.mutation_id not in done]
            if not done:
                break
        return answered

    def pull(self, limit: int | None = None) -> int:
        pages = 0
        while True:
            params: dict[str, Any] = {"protocol": PROTOCOL}
            if self.cursor:
                params["cursor"] = self.cursor
            if limit:
                params["limit"] = limit
            status, body = self.transport("GET", "/api/v1/sync/pull", params=params)
            if status == 410:
                self.cursor = None
                self.records = {}
                continue
            if status != 200:
                raise SyncError(status, body)
            pages += 1
            if body["reset"]:
                # The server resends everything in scope; forget what it will not resend.
                self.records, self.acked = {}, {}
            for team in body["removed_teams"]:
                self.records = {k: v for k, v in self.records.items() if v.get("team") != team}
            for change in body["changes"]:
                key = (change["type"], change["id"])
                self.acked.pop(key, None)  # the server's copy now holds what it took of this device's edits
                if change["op"] == "upsert":
                    self.records[key] = change["record"]
                else:
                    self.records.pop(key, None)
            self.cursor = body["cursor"]
            self.behind = body.get("behind", False)
            if not body["has_more"]:
                return pages

    def sync(self) -> list[dict[str, Any]]:
        """Push then pull: what a phone does when it gets signal. It pulls only once every mutation it pushed has
        an answer (a `pending` one waits for an earlier seq and stays in the outbox)."""
        answered = self.push()
        self.pull()
        return answered
