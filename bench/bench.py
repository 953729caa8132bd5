"""Sync benchmarks against a raw psycopg baseline on the same database server, in the same run.

Run through `make bench` (bench/run.sh starts gunicorn on a fresh database). Every figure is the median of
--repeat runs with min and max, and a ratio to its baseline. Results go to bench/RESULTS.md.
"""

import argparse
import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from bench.workload import creates, engagement_fields, updates  # noqa: E402
from responders.models import Device, Membership, Organization, Program, Role, Team, User  # noqa: E402
from tests.support import issue_access_token  # noqa: E402

# --- world ------------------------------------------------------------------------------------------------------


class World:
    def __init__(self, devices):
        org, _ = Organization.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
        self.macro, _ = Program.objects.get_or_create(organization=org, code="MACRO", defaults={"name": "MACRO"})
        self.teams = {}
        self.users = {}
        for code in ("push", "burst", "lb", "other"):
            self.teams[code], _ = Team.objects.get_or_create(
                program=self.macro, code=f"bench-{code}", defaults={"name": code}
            )
        self.tokens = {code: [] for code in self.teams}
        for code, n in (("push", max(devices, 4)), ("burst", devices), ("lb", devices), ("other", 1)):
            for k in range(n):
                user, _ = User.objects.get_or_create(username=f"bench-{code}-{k}")
                Membership.objects.get_or_create(
                    user=user,
                    program=self.macro,
                    is_active=True,
                    defaults={"team": self.teams[code], "role": Role.FIELD_RESPONDER},
                )
                self.tokens[code].append(user)

    def token(self, user):
        from django.utils.timezone import now as django_now

        device = Device.objects.create(
            id=uuid.uuid4(), user=user, name="bench", approved_at=django_now(), approval="admin"
        )
        return issue_access_token(user, device)


# --- HTTP ----------------------------------------------------------------------------------------------------------


CLIENT_TIMEOUT = 120


class Client:
    def __init__(self, url, token, timeout=CLIENT_TIMEOUT):
        parsed = urlparse(url)
        self.conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def request(self, method, path, body=None):
        # Safe to resend once on a dropped keep-alive connection: GETs are reads, pushes are idempotent.
        payload = json.dumps(body) if body is not None else None
        started = time.perf_counter()
        try:
            self.conn.request(method, path, body=payload, headers=self.headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            self.conn.close()
            started = time.perf_counter()
            self.conn.request(method, path, body=payload, headers=self.headers)
            response = self.conn.getresponse()
        data = response.read()
        # response.headers: names case-insensitive (a load balancer may send them in lower case).
        return response.status, json.loads(data or b"null"), response.headers, time.perf_counter() - started

    def push(self, mutations):
        """Push with retries on 429/503 (honouring Retry-After) and on a client timeout (a push is idempotent, so
        resending it is what an app does). Returns (answer, [(status, seconds, Retry-After, X-Served-By)]); status
        "timeout" counts too."""
        attempts = []
        while True:
            started = time.perf_counter()
            try:
                status, body, headers, seconds = self.request(
                    "POST", "/api/v1/sync/push", {"protocol": 1, "mutations": mutations}
                )
            except TimeoutError:
                self.conn.close()
                attempts.append(("timeout", time.perf_counter() - started, None, None))
                continue
            attempts.append((status, seconds, headers.get("Retry-After"), headers.get("X-Served-By")))
            if status in (429, 503):
                time.sleep(float(headers.get("Retry-After", "1")))
                continue
            return body, attempts

    def pull_all(self, limit=500):
        cursor, rows, pages = None, 0, 0
        while True:
            params = {"protocol": 1, "limit": limit, **({"cursor": cursor} if cursor else {})}
            status, body, _, _ = self.request("GET", "/api/v1/sync/pull?" + urlencode(params))
            assert status == 200, body
            rows += len(body["changes"])
            pages += 1
            cursor = body["cursor"]
            if not body["has_more"]:
                return rows, pages, cursor


# --- baselines ---------------------------------------------------------------------------------------------------


def pg():
    db = connection.settings_dict
    return psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], autocommit=True)


def baseline_upsert(n, batch):
    rows = [(str(uuid.uuid4()), json.dumps(engagement_fields(i))) for i in range(n)]
    with pg() as conn:
        conn.execute("DROP TABLE IF EXISTS bench_raw")
        conn.execute(
            "CREATE TABLE bench_raw (id uuid PRIMARY KEY, data jsonb NOT NULL, "
            "updated_at timestamptz NOT NULL DEFAULT now())"
        )
        started = time.perf_counter()
        for i in range(0, n, batch):
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO bench_raw (id, data) VALUES (%s, %s) ON CONFLICT (id) DO UPDATE "
                    "SET data = EXCLUDED.data, updated_at = now()",
                    rows[i : i + batch],
                )
        return n / (time.perf_counter() - started)


def baseline_keyset(batch):
    with pg() as conn, conn.cursor() as cur:
        started, last, total = time.perf_counter(), None, 0
        while True:
            if last is None:
                cur.execute("SELECT id, data FROM bench_raw ORDER BY id LIMIT %s", [batch])
            else:
                cur.execute("SELECT id, data FROM bench_raw WHERE id > %s ORDER BY id LIMIT %s", [last, batch])
            rows = cur.fetchall()
            if not rows:
                break
            total += len(rows)
            last = rows[-1][0]
        return total / (time.perf_counter() - started)


# --- the peer: pouchdb-server (CouchDB protocol), and PouchDB clients in Node -------------------------------------

PEER_DIR = Path(__file__).resolve().parent / "peer"


class Peer:
    """pouchdb-server, started by bench/run.sh on 127.0.0.1, measured with the same records as our server."""

    def __init__(self, url):
        self.url = url.rstrip("/")
        self.runs = 0

    def request(self, method, path, body=None):
        parsed = urlparse(self.url)
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=CLIENT_TIMEOUT)
        try:
            conn.request(
                method,
                path,
                body=json.dumps(body) if body is not None else None,
                headers={"Content-Type": "application/json"},
            )
            response = conn.getresponse()
            return response.status, json.loads(response.read() or b"null")
        finally:
            conn.close()

    def fresh_db(self):
        self.runs += 1
        name = f"bench_{os.getpid()}_{self.runs}"
        status, body = self.request("PUT", f"/{name}")
        assert status in (201, 202), (status, body)
        return name

    def bulk_docs(self, n, batch, concurrency):
        """`_bulk_docs` of n engagements (the same documents as our pushes), `concurrency` clients in parallel."""
        db = self.fresh_db()
        per_client = n // concurrency
        docs = [{"_id": str(uuid.uuid4()), "type": "engagement", **engagement_fields(i)} for i in range(n)]
        parsed = urlparse(self.url)

        def run(k):
            conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=CLIENT_TIMEOUT)
            mine = docs[k * per_client : (k + 1) * per_client]
            for i in range(0, per_client, batch):
                conn.request(
                    "POST",
                    f"/{db}/_bulk_docs",
                    body=json.dumps({"docs": mine[i : i + batch]}),
                    headers={"Content-Type": "application/json"},
                )
                response = conn.getresponse()
                answer = json.loads(response.read())
                assert response.status == 201 and all(r.get("ok") for r in answer), (response.status, answer[:2])
            conn.close()

        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(run, range(concurrency)))
        return per_client * concurrency / (time.perf_counter() - started), db

    def node(self, script, *args):
        out = subprocess.run(
            ["node", str(PEER_DIR / script), *map(str, args)], capture_output=True, text=True, check=False
        )
        if out.returncode != 0:
            raise RuntimeError(f"{script} failed: {out.stderr[-2000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])

    def first_replication(self, db, batch):
        """A PouchDB client's first replication of the database (bench/peer/replicate.js), timed in Node."""
        result = self.node("replicate.js", f"{self.url}/{db}", batch)
        return result["docs"] / result["seconds"], result["docs"]

    def conflict_round(self, n, batch):
        """Two PouchDB devices edit the same n documents and replicate to the server at once (peer/conflict.js)."""
        db = self.fresh_db()
        docs = [{"_id": str(uuid.uuid4()), "type": "engagement", **engagement_fields(i)} for i in range(n)]
        for i in range(0, n, batch):
            status, _ = self.request("POST", f"/{db}/_bulk_docs", {"docs": docs[i : i + batch]})
            assert status == 201
        result = self.node("conflict.js", f"{self.url}/{db}", batch)
        return result["revisions"] / result["seconds"], result


# --- measurements ----------------------------------------------------------------------------------------------------


def measure_push(url, world, n, batch, concurrency):
    """n creates through the API, split over `concurrency` devices pushing in parallel."""
    per_device = n // concurrency
    clients = [Client(url, world.token(world.tokens["push"][k])) for k in range(concurrency)]

    def run(k):
        muts = creates(per_device, offset=k * per_device)
        for i in range(0, per_device, batch):
            answer, _ = clients[k].push(muts[i : i + batch])
            assert all(r["status"] == "applied" for r in answer["results"]), answer["results"][:2]

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(run, range(concurrency)))
    return per_device * concurrency / (time.perf_counter() - started)


def measure_first_pull(url, world, batch):
    client = Client(url, world.token(world.tokens["push"][0]))
    started = time.perf_counter()
    rows, pages, _ = client.pull_all(batch)
    return rows / (time.perf_counter() - started), rows, pages


def measure_conflicts(url, world, n):
    """Two devices push edits to the same n records at once: one changes a scalar, both change the needs set."""
    seed = Client(url, world.token(world.tokens["push"][2]))
    muts = creates(n, seq_start=1)
    for i in range(0, n, 500):
        seed.push(muts[i : i + 500])
    ids = [m["id"] for m in muts]
    counts, lock = {}, threading.Lock()

    def edit(k):
        client = Client(url, world.token(world.tokens["push"][k]))
        fields = {
            "disposition": ["referred", "transported"][k - 2],
            "needs": ["housing", ["medical", "conflict"][k - 2]],
        }
        edits = updates(ids, fields)
        for i in range(0, n, 500):
            answer, _ = client.push(edits[i : i + 500])
            with lock:
                for r in answer["results"]:
                    counts[r["status"]] = counts.get(r["status"], 0) + 1

    started = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(edit, (2, 3)))
    return 2 * n / (time.perf_counter() - started), counts


def measure_burst(url, world, devices, per_device, team="burst"):
    """Every device pushes one full batch at the same moment: the end of a shift."""
    tokens = [world.token(u) for u in world.tokens[team][:devices]]
    batches = [creates(per_device, offset=k * per_device) for k in range(devices)]
    barrier = threading.Barrier(devices)
    results = [None] * devices

    def run(k):
        client = Client(url, tokens[k])
        barrier.wait()
        results[k] = client.push(batches[k])

    started = time.perf_counter()
    threads = [threading.Thread(target=run, args=(k,)) for k in range(devices)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    elapsed = time.perf_counter() - started
    attempts = [a for _, tries in results for a in tries]
    latencies = sorted(s for status, s, _, _ in attempts if status == 200)
    acknowledged = {r["id"] for answer, _ in results for r in answer["results"] if r["status"] == "applied"}
    sent = {m["id"] for b in batches for m in b}
    with connection.cursor() as cur:
        cur.execute("SELECT id::text FROM incidents_engagement WHERE team_id = %s", [world.teams[team].pk])
        stored = {row[0] for row in cur.fetchall()}
    return {
        "mutations": devices * per_device,
        "seconds": elapsed,
        "throughput": devices * per_device / elapsed,
        "p50": pct(latencies, 50),
        "p95": pct(latencies, 95),
        "p99": pct(latencies, 99),
        "5xx": sum(1 for s, *_ in attempts if isinstance(s, int) and s >= 500 and s != 503),
        "429_503": sum(1 for s, *_ in attempts if s in (429, 503)),
        "503_without_retry_after": sum(1 for s, _, retry, _ in attempts if s == 503 and not retry),
        "503_by_instance": _count_by(a[3] or "?" for a in attempts if a[0] == 503),
        "200_by_instance": _count_by(a[3] or "?" for a in attempts if a[0] == 200),
        "timeouts": sum(1 for s, *_ in attempts if s == "timeout"),
        "lost": len(acknowledged - stored),
        "unacknowledged": len(sent - acknowledged),
        "duplicated": 0 if len(stored) == len(stored & sent) else len(stored - sent),
    }


def _count_by(keys):
    counts = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def pct(values, p):
    if not values:
        return None
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def measure_pull_page(url, world, rows_big):
    """Cost of one stream page of 500 with the change index at its current size vs after adding rows_big rows."""
    client = Client(url, world.token(world.tokens["push"][1]))
    _, _, cursor = client.pull_all(500)
    # Rewind: a cursor at the start of the stream, so the page read is a real index scan.
    from django.core import signing

    state = signing.loads(cursor, key=settings.SYNC_CURSOR_KEY, salt="sync.pull.cursor")
    state["p"] = [0, 0]
    rewound = signing.dumps(state, key=settings.SYNC_CURSOR_KEY, salt="sync.pull.cursor", compress=True)

    def page_cost():
        times = []
        for _ in range(15):
            status, body, _, seconds = client.request(
                "GET", "/api/v1/sync/pull?" + urlencode({"protocol": 1, "limit": 500, "cursor": rewound})
            )
            assert status == 200 and len(body["changes"]) == 500, (status, len(body.get("changes", [])))
            times.append(seconds)
        return statistics.median(times)

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM sync_change")
        small_rows = cur.fetchone()[0]
    small = page_cost()
    with connection.cursor() as cur:
        cur.execute("SELECT min(txid::text::bigint), max(txid::text::bigint) FROM sync_change")
        lo, hi = cur.fetchone()
        # Other teams' changes spread over the same transaction range, so they interleave with ours.
        cur.execute(
            "INSERT INTO sync_change (record_type, record_id, team_id, program_id, op, version, changed_at, txid) "
            "SELECT 'engagement', gen_random_uuid(), %s, %s, 'upsert', 1, now(), "
            "((%s + (g %% GREATEST(%s - %s, 1)))::text)::xid8 FROM generate_series(1, %s) g",
            [world.teams["other"].pk, world.macro.pk, lo, hi, lo, rows_big],
        )
        cur.execute("ANALYZE sync_change")
        cur.execute("SELECT count(*) FROM sync_change")
        big_rows = cur.fetchone()[0]
    big = page_cost()
    return small_rows, small, big_rows, big


def scrape_metrics(url, token):
    """One instance's /metrics (the bearer token), as {name{labels}: value} for the sync counters."""
    from prometheus_client.parser import text_string_to_metric_families

    parsed = urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    conn.request("GET", "/metrics", headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    text = response.read().decode()
    assert response.status == 200, (response.status, text[:200])
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("sync_") and not sample.name.endswith("_created"):
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                values[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return values


def metric_delta(before, after, name):
    return sum(v for k, v in after.items() if k.split("{")[0] == name) - sum(
        v for k, v in before.items() if k.split("{")[0] == name
    )


def measure_scale_out(args, world, devices, per_device):
    """The burst through the load balancer (deploy/haproxy.cfg) to two app server instances, each with its own
    admission control, and each instance's metrics before and after."""
    instances = dict(pair.split("=", 1) for pair in args.instances.split(","))
    before = {name: scrape_metrics(url, args.metrics_token) for name, url in instances.items()}
    burst = measure_burst(args.lb_url, world, devices, per_device, team="lb")
    after = {name: scrape_metrics(url, args.metrics_token) for name, url in instances.items()}
    burst["metrics"] = {
        name: {
            "pushes_ok": after[name].get("sync_pushes_total{api=sync,outcome=ok}", 0)
            - before[name].get("sync_pushes_total{api=sync,outcome=ok}", 0),
            "admission_refusals": metric_delta(before[name], after[name], "sync_admission_refusals_total"),
            "mutations": metric_delta(before[name], after[name], "sync_mutations_total"),
        }
        for name in instances
    }
    return burst


def worker_peak_rss_mb(gunicorn_pid):
    out = subprocess.run(["pgrep", "-P", str(gunicorn_pid)], capture_output=True, text=True).stdout.split()
    peaks = []
    for pid in out:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        except FileNotFoundError:
            continue
    return max(peaks) if peaks else None


def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--gunicorn-pid", type=int, required=True)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="Sizes divided by 10 (a smoke run).")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--burst-only", action="store_true", help="Only the burst; printed, RESULTS.md untouched.")
    parser.add_argument("--peer-url", help="pouchdb-server's URL (bench/run.sh starts it when Node is present).")
    parser.add_argument("--peer-skipped", default="", help="Why the peer is not measured (printed and written).")
    parser.add_argument("--lb-url", help="The load balancer in front of two app server instances.")
    parser.add_argument("--instances", help="name=url,name=url: the instances behind the load balancer.")
    parser.add_argument("--lb-skipped", default="", help="Why the scale-out burst is not measured.")
    parser.add_argument("--metrics-token", default=os.environ.get("METRICS_TOKEN", ""))
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    records, batch = 20_000 // scale, 500
    burst_devices, burst_each = 200 // scale, 500
    conflicts_n, big_rows = 1_000 // scale, 1_000_000 // scale
    world = World(devices=burst_devices)
    out = {"records": records, "batch": batch}
    if args.burst_only:  # for trying server settings against the burst alone
        print(json.dumps(measure_burst(args.url, world, burst_devices, burst_each), indent=2, default=str))
        return

    # Peak memory first: a maximum-size push into a fresh server.
    warm = Client(args.url, world.token(world.tokens["other"][0]))
    warm.push(creates(batch))
    out["peak_rss_mb"] = worker_peak_rss_mb(args.gunicorn_pid)

    push_rates, upsert_rates, pull_rates, keyset_rates = [], [], [], []
    for _ in range(args.repeat):
        upsert_rates.append(baseline_upsert(records, batch))
        keyset_rates.append(baseline_keyset(batch))
    for _ in range(args.repeat):
        with connection.cursor() as cur:  # each push run starts from the same empty team
            cur.execute(
                "DELETE FROM sync_recordversion WHERE record_id IN "
                "(SELECT id FROM incidents_engagement WHERE team_id = %s)",
                [world.teams["push"].pk],
            )
            cur.execute("DELETE FROM sync_change WHERE team_id = %s", [world.teams["push"].pk])
            cur.execute("DELETE FROM incidents_engagement WHERE team_id = %s", [world.teams["push"].pk])
        push_rates.append(measure_push(args.url, world, records, batch, concurrency=4))
    for _ in range(args.repeat):
        rate, rows, pages = measure_first_pull(args.url, world, batch)
        pull_rates.append(rate)
    out["push"], out["upsert"] = summary(push_rates), summary(upsert_rates)
    out["pull"], out["keyset"] = summary(pull_rates), summary(keyset_rates)
    out["pull_rows"], out["pull_pages"] = rows, pages
    out["conflict_rate"], out["conflict_counts"] = measure_conflicts(args.url, world, conflicts_n)

    # The peer, right after ours on the same machine: the same records, batches and parallelism.
    out["peer_skipped"] = args.peer_skipped
    if args.peer_url:
        print(f"Measuring the peer, pouchdb-server at {args.peer_url}", flush=True)
        peer = Peer(args.peer_url)
        bulk_rates, repl_rates = [], []
        for _ in range(args.repeat):
            rate, db = peer.bulk_docs(records, batch, concurrency=4)
            bulk_rates.append(rate)
            rate, docs = peer.first_replication(db, batch)
            assert docs == records, (docs, records)
            repl_rates.append(rate)
        out["peer_bulk"], out["peer_replication"] = summary(bulk_rates), summary(repl_rates)
        out["peer_conflict_rate"], out["peer_conflict"] = peer.conflict_round(conflicts_n, batch)
    else:
        print(f"PEER SKIPPED: {args.peer_skipped or 'no --peer-url'}", flush=True)

    out["burst"] = measure_burst(args.url, world, burst_devices, burst_each)
    out["lb_skipped"] = args.lb_skipped
    if args.lb_url:
        print(f"Scale-out burst through the load balancer at {args.lb_url}", flush=True)
        out["lb_burst"] = measure_scale_out(args, world, burst_devices, burst_each)
    else:
        print(f"SCALE-OUT BURST SKIPPED: {args.lb_skipped or 'no --lb-url'}", flush=True)
    out["page_small_rows"], out["page_small"], out["page_big_rows"], out["page_big"] = measure_pull_page(
        args.url, world, big_rows
    )
    write_results(out, args)
    print(json.dumps(out, indent=2, default=str))


def write_results(r, args):
    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        pg_version = cur.fetchone()[0]
    mem = next(
        (line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")), "?"
    )

    def met(ok):
        return "MET" if ok else "MISSED"

    def rng(x, unit):
        return f"{x['median']:,.0f} {unit} ({x['min']:,.0f}–{x['max']:,.0f})"

    peer = "peer_bulk" in r
    push_ratio = r["push"]["median"] / r["upsert"]["median"]
    pull_ratio = r["pull"]["median"] / r["keyset"]["median"]
    page_ratio = r["page_big"] / r["page_small"]
    if peer:
        push_peer = r["push"]["median"] / r["peer_bulk"]["median"]
        pull_peer = r["pull"]["median"] / r["peer_replication"]["median"]
        conflict_peer = r["conflict_rate"] / r["peer_conflict_rate"]
    skipped = f"skipped: {r['peer_skipped']}"
    conflict_n = sum(r["conflict_counts"].values()) // 2
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` ({'quick run, sizes / 10' if args.quick else 'full sizes'}). Machine: "
        f"{os.cpu_count()} cores, {int(mem) // 1024} MiB, {platform.python_implementation()} "
        f"{platform.python_version()}, PostgreSQL {pg_version}; "
        f"gunicorn {args.workers} workers x {args.threads} threads "
        f"(SYNC_PUSH_CONCURRENCY {settings.SYNC_PUSH_CONCURRENCY} pushes at once per worker) on "
        "127.0.0.1, the benchmark client on the same machine (it competes for the same 2 cores). "
        "The peer is pouchdb-server (CouchDB protocol, LevelDB, Node "
        f"{_node_version()}) on 127.0.0.1, measured in the same run right after our figures.",
        "",
        f"Medians of {args.repeat} runs (min–max). Ratios are ours divided by the baseline measured in the same run: "
        "raw psycopg on the same database server, and the peer.",
        "",
        "| measurement | ours | raw psycopg | ratio | peer (pouchdb-server) | ratio to peer | targets |",
        "|---|---|---|---|---|---|---|",
        f"| push of {r['records']:,} engagements (~840 B, batches of {r['batch']}, 4 devices in parallel) "
        f"| {rng(r['push'], 'rec/s')} | upsert {rng(r['upsert'], 'rows/s')} | {push_ratio:.2f}× "
        + (
            f"| `_bulk_docs` {rng(r['peer_bulk'], 'docs/s')} | {push_peer:.2f}× "
            f"| ≥ 0.25× psycopg: {met(push_ratio >= 0.25)}; ≥ 1× peer: {met(push_peer >= 1)} |"
            if peer
            else f"| {skipped} | | ≥ 0.25× psycopg: {met(push_ratio >= 0.25)} |"
        ),
        f"| first pull of {r['pull_rows']:,} records ({r['pull_pages']} pages of {r['batch']}) "
        f"| {rng(r['pull'], 'rec/s')} | keyset {rng(r['keyset'], 'rows/s')} | {pull_ratio:.2f}× "
        + (
            f"| PouchDB client's first replication {rng(r['peer_replication'], 'docs/s')} | {pull_peer:.2f}× "
            f"| ≥ 0.3× keyset: {met(pull_ratio >= 0.3)}; ≥ 3× peer: {met(pull_peer >= 3)} |"
            if peer
            else f"| {skipped} | | ≥ 0.3× keyset: {met(pull_ratio >= 0.3)} |"
        ),
        f"| conflict round: two devices edit the same {conflict_n:,} records and sync at once "
        f"| {r['conflict_rate']:,.0f} mutations/s | | "
        + (
            f"| {r['peer_conflict_rate']:,.0f} revisions/s | {conflict_peer:.2f}× "
            f"| ≥ 1× peer: {met(conflict_peer >= 1)} |"
            if peer
            else f"| {skipped} | | |"
        ),
        f"| pull page of 500, change index {r['page_small_rows']:,} vs {r['page_big_rows']:,} rows "
        f"| {r['page_small'] * 1000:.0f} ms vs {r['page_big'] * 1000:.0f} ms | | {page_ratio:.2f}× | | "
        f"| ≤ 1.2×: {met(page_ratio <= 1.2)} |",
        f"| peak worker RSS after a maximum-size push | {r['peak_rss_mb']:.0f} MB | | | | "
        f"| < 200 MB: {met(r['peak_rss_mb'] is not None and r['peak_rss_mb'] < 200)} |",
        "",
        f"**Conflict round**: ours {r['conflict_counts']}"
        + (
            f"; the peer's: {r['peer_conflict']['revisions']:,} revisions written, "
            f"{r['peer_conflict']['conflicted']:,} documents left with `_conflicts`."
            if peer
            else "."
        ),
        "",
        _burst_line("End-of-shift burst, one app server", r["burst"]),
        "",
    ]
    if "lb_burst" in r:
        lb = r["lb_burst"]
        lines += [
            _burst_line(
                "Scale-out burst, through HAProxy (deploy/haproxy.cfg) to two app server instances "
                f"({args.workers // 2} workers x {args.threads} threads each) with two Celery workers on Redis",
                lb,
            ),
            f"Answers by instance: 200 {lb['200_by_instance']}, 503 {lb['503_by_instance']}; 503 answers without "
            f"Retry-After: {lb['503_without_retry_after']}. Each instance's own /metrics over the burst: "
            + "; ".join(
                f"{name}: {m['pushes_ok']:.0f} pushes answered, {m['mutations']:.0f} mutations, "
                f"{m['admission_refusals']:.0f} admission refusals"
                for name, m in lb["metrics"].items()
            )
            + f" (p99 target < 1 s: {met(lb['p99'] is not None and lb['p99'] < 1)}).",
            "",
        ]
    else:
        lines += [f"**Scale-out burst**: skipped: {r['lb_skipped']}", ""]
    lines += [
        "## Reading these figures",
        "",
        "See bench/README.md for what each figure measures and why targets are missed where they are.",
    ]
    Path(__file__).with_name("RESULTS.md").write_text("\n".join(lines) + "\n")


def _burst_line(title, b):
    p99 = f"{b['p99']:.2f}" if b["p99"] is not None else "n/a"
    return (
        f"**{title}**: {b['mutations']:,} mutations from {b['mutations'] // 500} devices at once "
        f"(500 each), in {b['seconds']:.1f} s ({b['throughput']:,.0f}/s). Batch latency p50 {b['p50']:.2f} s, "
        f"p95 {b['p95']:.2f} s, p99 {p99} s. "
        f"5xx: {b['5xx']}; 429/503 answers (retried after Retry-After): {b['429_503']}; "
        f"client timeouts after {CLIENT_TIMEOUT} s (resent): {b['timeouts']}. "
        f"Lost (acknowledged but not stored): {b['lost']}; duplicated: {b['duplicated']}; "
        f"never acknowledged: {b['unacknowledged']}."
    )


def _node_version():
    try:
        return subprocess.run(["node", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    except FileNotFoundError:
        return "absent"


if __name__ == "__main__":
    main()
