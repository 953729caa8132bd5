"""Liveness of the pull horizon (sync.md invariant 13), on real PostgreSQL with real open transactions.

Only transactions that write sync changes in this database may hold a pull back. A transaction left open in
another database on the same server, or an unrelated one in this database, must not delay a teammate's view of
a pushed change; a sync write still open does hold changes back (never skips them), and the answer says so.
"""

import logging
import uuid

import psycopg
import pytest
from django.db import connection

from records.registry import get_spec
from records.writes import WriteContext, record_create
from sync.changes import horizon
from tests.support import ON_VIEW, SyncWriteLeftOpen, mutation, pull, push

pytestmark = pytest.mark.serial


def _dsn(dbname):
    params = connection.get_connection_params()
    return psycopg.conninfo.make_conninfo(
        host=params.get("host") or "127.0.0.1",
        port=params.get("port") or 5432,
        user=params.get("user") or "postgres",
        dbname=dbname,
        password=params.get("password") or None,
    )


@pytest.fixture
def open_transaction_elsewhere():
    """A transaction with a transaction id, left open in another database of the same server."""
    other = f"horizon_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_dsn("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{other}"')
    conn = psycopg.connect(_dsn(other))
    try:
        conn.execute("CREATE TABLE held (n int)")
        conn.execute("INSERT INTO held VALUES (1)")  # an xid is assigned; the transaction stays open
        yield conn
    finally:
        conn.rollback()
        conn.close()
        with psycopg.connect(_dsn("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{other}"')


@pytest.fixture
def open_transaction_here():
    """An unrelated transaction in this database (it writes no sync change), left open."""
    conn = psycopg.connect(_dsn(connection.settings_dict["NAME"]))
    try:
        conn.execute("SELECT pg_current_xact_id()")  # holds a transaction id, like any write would
        conn.execute("SELECT count(*) FROM responders_team")
        yield conn
    finally:
        conn.rollback()
        conn.close()


def _teammate_sees_a_push_at_once(tfield):
    writer, reader = tfield.api(tfield.responder), tfield.api(tfield.partner)
    cursor = pull(reader).json()["cursor"]
    rid = uuid.uuid4()
    assert push(writer, mutation(1, record_id=rid, fields=ON_VIEW)).json()["results"][0]["status"] == "applied"
    page = pull(reader, cursor).json()
    assert [c["id"] for c in page["changes"]] == [str(rid)]
    assert page["behind"] is False


def test_an_open_transaction_in_another_database_does_not_delay_a_pull(tfield, open_transaction_elsewhere):
    _teammate_sees_a_push_at_once(tfield)


def test_an_unrelated_open_transaction_in_this_database_does_not_delay_a_pull(tfield, open_transaction_here):
    _teammate_sees_a_push_at_once(tfield)


def test_an_open_sync_write_holds_later_changes_back_says_so_and_skips_nothing(tfield, caplog):
    """T1 writes a change and stays open; T2 commits a change after it. The pull holds T2's change back (it would
    otherwise pass T1's position), answers behind with a retry hint and logs the holder's age; once T1 commits,
    the next pull brings both."""
    reader = tfield.api(tfield.partner)
    cursor = pull(reader).json()["cursor"]
    spec = get_spec("engagement")
    with SyncWriteLeftOpen(tfield.responder) as slow:
        fast = record_create(spec=spec, ctx=WriteContext(actor=tfield.responder), data=ON_VIEW).instance.pk
        with caplog.at_level(logging.WARNING, logger="sync.horizon"):
            page = pull(reader, cursor).json()
        assert str(fast) not in {c["id"] for c in page["changes"]}, page
        assert page["behind"] is True and page["retry_after"] >= 1, (page, horizon())
        assert any("pull held back" in r.getMessage() for r in caplog.records)
        cursor = page["cursor"]
    page = pull(reader, cursor).json()
    assert {str(slow.record_id), str(fast)} <= {c["id"] for c in page["changes"]}
    assert page["behind"] is False
