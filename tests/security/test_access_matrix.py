"""The access matrix over every endpoint, generated from the URL configuration.

Every route of the API, the supervisor pages and the admin must have a policy below (a new route without one
fails the test). Each route is called by every kind of caller, on objects of van-1 (MACRO): a conflict, a
quarantined mutation, an amendment, a device, a notification, a submitted shift log. The policy says who may
pass the wall; the test checks the answers, and for lists, whose objects appear in them.

Outcomes: "ok" is any answer that got past the wall (2xx, or a 4xx about the request itself such as 400 or
409); "denied" is 403 or 404 (404: the object is outside the caller's scope and is not admitted to exist);
an anonymous caller gets 401 from the API and a redirect to the login page from the pages.
"""

import re
import uuid

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from notifications.models import Notification
from records.models import Conflict
from responders.models import Role
from tests.support import ON_VIEW, mutation, push

CALLERS = [
    "anonymous",
    "responder",
    "other_team",
    "supervisor",
    "other_supervisor",
    "admin",
    "analyst",
    "dvp",
    "dvp_coordinator",
]


def routes():
    """(route, methods) for every URL pattern: its regex-free path with <placeholders>."""

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                yield prefix + str(p.pattern), p

    out = {}
    for raw, pattern in walk(get_resolver().url_patterns):
        if "(?P<format>" in raw or raw.startswith("admin/") and raw != "admin/":
            continue  # format suffixes; the admin's own pages are behind its index (checked below)
        path = "/" + raw.replace("^", "").replace("$", "").replace("\\", "")
        path = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<\1>", path)
        path = re.sub(r"<\w+:(\w+)>", r"<\1>", path)
        out[path] = pattern
    return out


# route -> {method: policy}. Policies: "public"; "any" (any signed-in caller); a set of callers allowed;
# "list:<what>" (any signed-in caller, and the list shows <what> only to the callers of LIST_VIEWERS[what]).
RECORDS = "records"  # the record routes: tests/incidents/test_records_api.py::test_access_matrix (210 cells)
SUPERVISORS = {"supervisor", "admin"}  # van-1's supervisor, and MACRO's program admin
PAGE_USERS = SUPERVISORS | {"other_supervisor"}  # who may open the supervisor pages at all
# Pages that read records open to coordinators too (review/access.py::staff_required); the policy then decides.
STAFF_PAGE_USERS = PAGE_USERS | {"dvp_coordinator"}
DVP_STAFF = {"dvp_coordinator"}  # of the callers, the one with a staff role in DVP's zone-east
REPORTERS = {"supervisor", "other_supervisor", "admin", "analyst"}  # MACRO reports (a team supervisor: their team)
POLICY = {
    "/api/v1/auth/login": {"post": "public"},
    "/api/v1/auth/refresh": {"post": "public"},
    "/api/v1/auth/logout": {"post": "any"},
    "/api/v1/me": {"get": "any"},
    "/api/v1/devices": {"get": "list:device"},
    "/api/v1/devices/<device_id>/revoke": {"post": {"responder"} | SUPERVISORS},
    "/api/v1/shifts/<shift_id>/submit": {"post": {"responder", "supervisor", "admin"}},
    "/api/v1/shifts/<shift_id>/approve": {"post": SUPERVISORS},
    "/api/v1/shifts/<shift_id>/return": {"post": SUPERVISORS},
    "/api/v1/review/queue": {"get": "list:shift"},
    "/api/v1/amendments/<amendment_id>/accept": {"post": SUPERVISORS},
    "/api/v1/amendments/<amendment_id>/decline": {"post": SUPERVISORS},
    "/api/v1/sync/push": {"post": "any"},
    "/api/v1/sync/pull": {"get": "any"},
    "/api/v1/sync/conflicts": {"get": "list:conflict"},
    "/api/v1/sync/conflicts/<conflict_id>/resolve": {"post": SUPERVISORS},
    "/api/v1/sync/quarantine": {"get": "list:mutation"},
    "/api/v1/sync/quarantine/<mutation_id>/replay": {"post": {"responder"} | SUPERVISORS},
    "/api/v1/sync/quarantine/<mutation_id>/dismiss": {"post": SUPERVISORS},
    "/api/v1/sync/watermelon/schema": {"get": "any"},
    "/api/v1/sync/watermelon/pull": {"get": "any"},
    "/api/v1/sync/watermelon/push": {"post": "any"},
    "/api/v1/sync/amendments": {"get": "list:amendment"},
    "/api/v1/notifications": {"get": "list:notification"},
    "/api/v1/notifications/<notification_id>/read": {"post": {"supervisor"}},
    "/api/v1/reports/engagements": {"get": REPORTERS},
    "/api/v1/reports/dvp": {"get": {"dvp_coordinator"}},  # asked for program=DVP
    "/api/v1/reports/shifts": {"get": REPORTERS},
    "/api/v1/reports/cad-calls": {"post": SUPERVISORS | {"other_supervisor"}},  # the city's calls: program-wide
    "/api/v1/reports/cad-reconciliation": {"get": REPORTERS},
    "/api/v1/public/stats": {"get": "public"},
    "/api/schema/": {"get": "public"},
    "/api/docs/": {"get": "public"},
    "/api/redoc/": {"get": "public"},
    "/healthz": {"get": "public"},
    "/readyz": {"get": "public"},
    # Not a person's: only the metrics bearer token (METRICS_TOKEN) opens it; test_the_metrics_need_their_own_token.
    "/metrics": {"get": "metrics token"},
    # The field app: its shell, manifest and service worker, and the form descriptions (labels and code lists, no
    # records) load before anyone signs in; everything it shows after comes from the sync API.
    "/api/v1/forms": {"get": "public"},
    "/app/": {"get": "public"},
    "/app/manifest.webmanifest": {"get": "public"},
    "/app/sw.js": {"get": "public"},
    "/public/stats": {"get": "public"},
    "/supervisor/login/": {"get": "public"},
    "/supervisor/logout/": {"post": "public"},  # signing out needs nothing
    "/supervisor/": {"get": "page"},
    "/supervisor/shifts/<shift_id>/": {"get": SUPERVISORS},
    "/supervisor/shifts/<shift_id>/approve/confirm": {"get": SUPERVISORS},
    "/supervisor/shifts/<shift_id>/<decision>": {"post": SUPERVISORS},
    "/supervisor/records/<record_type>/<record_id>/": {"get": SUPERVISORS},
    "/supervisor/conflicts/": {"get": "list:conflict-page"},
    "/supervisor/conflicts/<conflict_id>/resolve": {"post": SUPERVISORS},
    "/supervisor/quarantine/": {"get": "list:mutation-page"},
    "/supervisor/quarantine/<mutation_id>/": {"get": SUPERVISORS, "post": SUPERVISORS},
    "/supervisor/quarantine/<mutation_id>/dismiss": {"post": SUPERVISORS},
    "/supervisor/amendments/": {"get": "list:amendment-page"},
    "/supervisor/amendments/<amendment_id>/<decision>": {"post": SUPERVISORS},
    "/supervisor/follow-ups/": {"get": DVP_STAFF},
    "/supervisor/follow-ups/overdue/": {"get": DVP_STAFF},
    "/supervisor/follow-ups/<case_id>/": {"get": DVP_STAFF},
    "/supervisor/follow-ups/<case_id>/<action>": {"post": DVP_STAFF},
    "/supervisor/incidents/": {"get": DVP_STAFF},
    "/supervisor/activity/": {"get": PAGE_USERS},
    "/supervisor/reports/": {"get": REPORTERS},  # a redirect to /reports/
    # Asked for program=MACRO: MACRO's reporting roles (a team's supervisor: their team); DVP's are refused.
    "/reports/": {"get": REPORTERS},
    "/reports/<table>.csv": {"get": REPORTERS},
    "/admin/": {"get": {"staff"}},
    # Setting up the authenticator app: supervisors and program admins (responders/two_factor.py).
    "/account/two-factor/": {"get": "page"},
    "/account/two-factor/recovery-codes": {"post": "page"},
}
# Who sees van-1's object in a list (the author of a conflict or quarantined mutation sees their own).
LIST_VIEWERS = {
    "device": {"responder"} | SUPERVISORS,
    "shift": SUPERVISORS,
    "conflict": {"responder"} | SUPERVISORS,
    "mutation": {"responder"} | SUPERVISORS,
    "amendment": {"responder"} | SUPERVISORS,
    "notification": {"supervisor"},
    "conflict-page": SUPERVISORS,
    "mutation-page": SUPERVISORS,
    "amendment-page": SUPERVISORS,
}
PAGE_CALLERS_DENIED_BY_ROLE = 403  # a signed-in non-supervisor on the pages


def is_record_route(path):
    from incidents.views import URL_NAMES

    return any(path.startswith(f"/api/v1/{name}") for name in URL_NAMES.values())


def test_every_route_has_a_policy():
    missing = sorted(p for p in routes() if p not in POLICY and not is_record_route(p))
    assert not missing, f"routes without an access policy: {missing}"
    stale = sorted(p for p in POLICY if p not in routes())
    assert not stale, f"policies for routes that no longer exist: {stale}"


@pytest.fixture
def world(field):
    return make_world(field)


def make_world(field):
    """van-1 objects behind every kind of route, and a caller of each kind (new objects at each call)."""
    callers = field.__dict__.setdefault("_callers", {})
    callers.update(
        {
            "responder": field.responder,
            "other_team": field.other_team,
            "supervisor": field.supervisor,
            "dvp": field.interrupter,
            "dvp_coordinator": field.coordinator,
            "analyst": field.macro_analyst,
        }
    )
    if "admin" not in callers:
        callers["other_supervisor"] = field.user("supervisor_b", field.macro, field.team_b, Role.SUPERVISOR)
        callers["admin"] = field.user("macro_admin", field.macro, None, Role.PROGRAM_ADMIN)
    crew = field.api(field.responder)
    sid, eid, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    shift = {"call_sign": "MACRO 31", "started_at": "2026-11-24T07:00:00Z", "ended_at": "2026-11-24T15:00:00Z"}
    push(
        crew,
        mutation(1, type_="shift", record_id=sid, fields=shift),
        mutation(2, record_id=eid, fields={**ON_VIEW, "shift": str(sid)}),
        mutation(3, record_id=other, fields=ON_VIEW),
    )
    # A conflict (the partner's value held back), a quarantined mutation, an amendment.
    push(
        field.api(field.partner), mutation(1, "update", record_id=other, base_version=1, fields={"origin": "follow_up"})
    )
    push(crew, mutation(4, "update", record_id=other, base_version=1, fields={"origin": "community_referral"}))
    conflict = Conflict.objects.get(record_id=other)
    rejected = mutation(5, fields={"origin": "walk_in"})
    push(crew, rejected)
    crew.post(f"/api/v1/shifts/{sid}/submit")
    field.api(field.supervisor).post(f"/api/v1/shifts/{sid}/approve")
    amendment = push(crew, mutation(6, "update", record_id=eid, base_version=1, fields={"disposition": "referred"}))
    amendment_id = amendment.json()["results"][0]["amendment_id"]
    # A second shift log, submitted and waiting in the queue.
    queued = uuid.uuid4()
    push(crew, mutation(7, type_="shift", record_id=queued, fields=shift))
    crew.post(f"/api/v1/shifts/{queued}/submit")
    # A DVP follow-up case of zone-east (the coordinator's).
    case = uuid.uuid4()
    push(
        field.api(field.interrupter),
        mutation(1, type_="follow_up_case", record_id=case, fields={"persons": [{"alias": "Cousin"}]}),
    )
    notification = Notification.objects.create(
        recipient=field.supervisor, kind="conflict_waiting", subject="A conflict waits", dedupe_key=str(uuid.uuid4())
    )
    ids = {
        "device_id": str(crew.device.pk),
        "shift_id": str(queued),
        "amendment_id": amendment_id,
        "conflict_id": str(conflict.pk),
        "mutation_id": rejected["mutation_id"],
        "notification_id": str(notification.pk),
        "decision": None,  # per route
        "record_type": "engagement",
        "record_id": str(eid),
        "case_id": str(case),
        "action": "reassign",
        "table": "summary",
    }
    return {"field": field, "callers": callers, "ids": ids}


DECISIONS = {
    "/supervisor/shifts/<shift_id>/<decision>": "return",
    "/supervisor/amendments/<amendment_id>/<decision>": "decline",
}
LIST_MARKERS = {
    "device": "device_id",
    "shift": "shift_id",
    "conflict": "conflict_id",
    "mutation": "mutation_id",
    "amendment": "amendment_id",
    "notification": "notification_id",
    "conflict-page": "conflict_id",
    "mutation-page": "mutation_id",
    "amendment-page": "amendment_id",
}


BODIES = {
    "/api/v1/sync/push": {"protocol": 1, "mutations": []},
    "/api/v1/sync/conflicts/<conflict_id>/resolve": {"resolution": "keep_server"},
    "/api/v1/reports/cad-calls": {"program": "MACRO", "csv": "cad_number,received_at\n"},
    "/api/v1/auth/refresh": {"refresh": "not-a-token"},
}


def _call(world, who, path, method):
    ids = world["ids"]
    filled = path.replace("<decision>", DECISIONS.get(path, "x"))
    for name, value in ids.items():
        if value is not None:
            filled = filled.replace(f"<{name}>", value)
    params = {"program": "DVP" if path.endswith("/dvp") else "MACRO", "protocol": 1}
    if path.startswith("/api/"):
        client = APIClient() if who == "anonymous" else world["field"].api(world["callers"][who])
        if method == "get":
            return client.get(filled, params)
        return client.post(filled, BODIES.get(path, {}), format="json")
    client = Client()
    if who != "anonymous":
        client.force_login(world["callers"][who])
    if method == "get":
        return client.get(filled, {"program": "MACRO"})
    return client.post(filled, {"resolution": "keep_server"})


STAFF_ROUTES = {
    "/supervisor/",
    "/supervisor/shifts/<shift_id>/",
    "/supervisor/records/<record_type>/<record_id>/",
    "/supervisor/follow-ups/",
    "/supervisor/follow-ups/overdue/",
    "/supervisor/follow-ups/<case_id>/",
    "/supervisor/follow-ups/<case_id>/<action>",
    "/supervisor/incidents/",
    "/supervisor/activity/",
}


def _mutating(path, method, policy):
    return method == "post" and isinstance(policy, set)


def _check(world, path, method, who, response):
    """None when the answer follows the policy, else what is wrong."""
    policy = POLICY[path][method]
    status = response.status_code
    if status >= 500:
        return f"{status}"
    page = not path.startswith("/api/") and path not in ("/healthz", "/readyz", "/public/stats")
    if policy == "public":
        return None if status not in (401, 403, 404) or path.startswith("/api/v1/auth/") else f"{status}"
    if who == "anonymous":
        if page:
            return None if status == 302 and "/supervisor/login/" in response["Location"] else f"{status}"
        code = response.json().get("code") if status == 401 else None
        return None if code == "not_authenticated" else f"{status} {code}"
    if page and who not in (STAFF_PAGE_USERS if path in STAFF_ROUTES else PAGE_USERS) and not (
        isinstance(policy, set) and who in policy
    ):
        return None if status == 403 else f"{status} (a non-supervisor on the pages)"
    if policy in ("any", "page") or policy.startswith("list:") if isinstance(policy, str) else False:
        if status in (401, 403, 404):
            return f"{status} {response.content[:200]!r}"
        if isinstance(policy, str) and policy.startswith("list:"):
            what = policy.split(":", 1)[1]
            shown = world["ids"][LIST_MARKERS[what]] in response.content.decode()
            if shown is not (who in LIST_VIEWERS[what]):
                return f"van-1's {what} {'shown' if shown else 'not shown'}"
        return None
    if who in policy:
        return None if status not in (401, 403, 404) else f"{status} {response.content[:200]!r}"
    if status not in (403, 404):
        return f"{status} {response.content[:200]!r}"
    if path.startswith("/api/") and response.json().get("code") not in ("not_found", "permission_denied"):
        return f"{status} {response.json().get('code')}"
    return None


ROUTES = [
    (path, method)
    for path, methods in sorted(POLICY.items())
    for method in methods
    if path not in ("/admin/", "/metrics")
]


@pytest.mark.parametrize(("path", "method"), ROUTES, ids=[f"{m} {p}" for p, m in ROUTES])
def test_access_matrix_over_every_endpoint(field, path, method):
    """Every kind of caller on this route. Callers who may change something get a world of their own."""
    policy = POLICY[path][method]
    shared = make_world(field)
    wrong = []
    for who in CALLERS:
        world = make_world(field) if _mutating(path, method, policy) and who in policy else shared
        answer = _check(world, path, method, who, _call(world, who, path, method))
        if answer:
            wrong.append(f"{who}: {answer}")
    assert not wrong, "\n".join(wrong)


def test_the_admin_is_for_staff_only(world):
    root = world["field"].user("staff", world["field"].macro, None, Role.PROGRAM_ADMIN)
    root.is_staff = root.is_superuser = True
    root.save()
    world["callers"]["staff"] = root
    for who in CALLERS + ["staff"]:
        client = Client()
        if who != "anonymous":
            client.force_login(world["callers"][who])
        status = client.get("/admin/").status_code
        assert status == (200 if who == "staff" else 302), (who, status)


def test_the_matrix_is_large_enough():
    assert len(ROUTES) >= 50 and len(ROUTES) * len(CALLERS) >= 450


def test_the_metrics_need_their_own_token(world, settings):
    """No person's token or session opens /metrics: only METRICS_TOKEN does; unset, the route does not exist."""
    for token, expected in (("", 404), ("metrics-token-0123456789abcdef", 401)):
        settings.METRICS_TOKEN = token
        for who in CALLERS + ["staff"]:
            if who == "staff":
                root = world["field"].user("staff", world["field"].macro, None, Role.PROGRAM_ADMIN)
                root.is_staff = root.is_superuser = True
                root.save()
                client = Client()
                client.force_login(root)
                answers = [client.get("/metrics")]
            elif who == "anonymous":
                answers = [Client().get("/metrics")]
            else:
                user = world["callers"][who]
                session = Client()
                session.force_login(user)
                answers = [world["field"].api(user).get("/metrics"), session.get("/metrics")]
            for answer in answers:
                assert answer.status_code == expected, (who, answer.status_code)
                assert b"sync_" not in answer.content


def test_docs_security_states_the_real_size_of_the_matrix():
    """docs/security.md quotes the matrix's size in two places; both must be what this module and the record-API
    matrix really generate from the URL configuration (they went stale once: 56 pairs were documented, not 67)."""
    from django.conf import settings

    from tests.incidents import test_records_api as records

    text = (settings.BASE_DIR / "docs" / "security.md").read_text()
    pairs, callers, cells = len(ROUTES), len(CALLERS), len(ROUTES) * len(CALLERS)
    record_routes = sum(1 for path in routes() if is_record_route(path))
    types, ops = len(records.MACRO_TYPES | records.DVP_TYPES), 5
    record_cells = types * ops * len(records.CALLERS)
    expected = [
        f"{pairs} route-method pairs × {callers} kinds of caller = {cells} cells",
        f"the {record_routes} record routes: {types} record types × {ops} operations × "
        f"{len(records.CALLERS)} kinds of caller = {record_cells} cells",
        f"{cells} cells over every non-record endpoint ({pairs} route-method pairs × {callers} callers) plus "
        f"{record_cells} record-API",
    ]
    flat = " ".join(text.split())
    missing = [sentence for sentence in expected if sentence not in flat]
    assert not missing, f"docs/security.md should say: {missing}"
