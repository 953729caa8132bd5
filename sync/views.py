from typing import Any, cast
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from backend.errors import DomainError, Unavailable, error_body
from backend.renderers import SyncJSONRenderer
from backend.throttling import ScopedRateThrottle
from records.access import own_or_reviewed
from records.models import Amendment, Conflict
from responders.authentication import DeviceRequest
from responders.models import User
from sync.models import Mutation

from . import metrics, services, watermelon
from . import pull as pull_engine
from . import push as push_engine
from .inputs import ProtocolQuery, PullQuery, PushEnvelope, PushHead, WatermelonPullQuery
from .serializers import (
    AmendmentOutput,
    ConflictOutput,
    ConflictResolveInput,
    ConflictResolveOutput,
    MutationResult,
    PullOutput,
    PushInput,
    PushOutput,
    QuarantineOutput,
    ReplayInput,
)


def _push_clashed() -> Unavailable:
    """A push whose writes met another's at commit (two devices creating one id at once, say): nothing of it
    was applied; sent again, each mutation gets its own answer (the clashing one is then rejected)."""
    return Unavailable(
        "push_clashed",
        "This push clashed with another one applied at the same moment; nothing of it was applied. Send it again.",
        extra={"retry_after": 1},
    )


def _upgrade_required(version: int, quarantined: bool) -> Response:
    return Response(
        error_body(
            "upgrade_required",
            "This app version speaks a sync protocol the server no longer supports; update the app. "
            + ("Your queued changes were kept on the server." if quarantined else ""),
            supported_protocols=list(settings.SYNC_PROTOCOL_VERSIONS),
            quarantined=quarantined,
        ),
        status=426,
    )


class PushView(APIView):
    """Send a batch of offline mutations; each gets its own answer (see docs/sync-protocol.md)."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "sync"

    @extend_schema(request=PushInput, responses={200: PushOutput})
    def post(self, request: DeviceRequest) -> Response:
        try:
            with push_engine.push_slot():  # before the body is parsed: a push turned away costs no parsing
                response = self._push(request)
        except DomainError as exc:
            metrics.push_refused("sync", exc.code)
            raise
        if response.status_code == 200:
            metrics.push_answered("sync", response.data["results"])
        else:
            metrics.push_refused("sync", response.data.get("code"))
        return response

    def _push(self, request: DeviceRequest) -> Response:
        head = PushHead.parse(request.data)
        user = cast(User, request.user)  # DeviceJWTAuthentication signed a user in (permission IsAuthenticated)
        if head["protocol"] not in settings.SYNC_PROTOCOL_VERSIONS:
            push_engine.quarantine_unsupported(user=user, device=request.device, body=request.data, **head)
            return _upgrade_required(head["protocol"], quarantined=True)
        envelope = PushEnvelope.parse(request.data)
        try:
            outcome = push_engine.push(user=user, device=request.device, request=request, **envelope)
        except IntegrityError:
            raise _push_clashed() from None
        return Response({"protocol": envelope["protocol"], **outcome, "server_time": timezone.now().isoformat()})


# The configured renderers but DRF's JSON one (the browsable API where DEBUG adds it); resolved classes at run time.
OTHER_RENDERERS: list[Any] = [
    r for r in cast(list[Any], api_settings.DEFAULT_RENDERER_CLASSES) if r is not JSONRenderer
]


class PullView(APIView):
    """Changes in your scope since your cursor, a page at a time (see docs/sync-protocol.md)."""

    renderer_classes = [SyncJSONRenderer, *OTHER_RENDERERS]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "sync"

    @extend_schema(
        parameters=[
            OpenApiParameter("protocol", int, required=True, description="Sync protocol version (1)."),
            OpenApiParameter("cursor", str, description="The cursor from the last page; omit on first sync."),
            OpenApiParameter("limit", int, description=f"Page size, at most {settings.SYNC_MAX_PULL_PAGE}."),
        ],
        responses={200: PullOutput},
    )
    def get(self, request: DeviceRequest) -> Response:
        version = ProtocolQuery.parse(request.query_params)["protocol"]
        if version not in settings.SYNC_PROTOCOL_VERSIONS:
            return _upgrade_required(version, quarantined=False)
        query = PullQuery.parse(request.query_params)
        page = pull_engine.pull(
            user=request.user, device=request.device, cursor=query["cursor"], limit=query["limit"], request=request
        )
        metrics.pull_answered("sync", len(page["changes"]), behind=page.get("behind", False))
        return Response({"protocol": version, **page})


def _with_status(qs: QuerySet[Any], request: Request, statuses: list[str]) -> QuerySet[Any]:
    status = request.query_params.get("status")
    return qs.filter(status=status) if status in statuses else qs


class WatermelonSchemaView(APIView):
    """The tables and columns a WatermelonDB app declares (appSchema), generated from the record types."""

    @extend_schema(responses={200: dict})
    def get(self, request: DeviceRequest) -> Response:
        return Response(watermelon.schema())


class WatermelonPullView(APIView):
    """WatermelonDB's pullChanges: {changes: {table: {created, updated, deleted}}, timestamp} (docs/watermelondb.md)."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "sync"

    @extend_schema(
        parameters=[
            OpenApiParameter("last_pulled_at", str, description="The timestamp of the last pull, or null."),
            OpenApiParameter("schema_version", int, description="The app's WatermelonDB schema version."),
            OpenApiParameter("migration", str, description="WatermelonDB's migration object as JSON, or null."),
        ],
        responses={200: dict},
    )
    def get(self, request: DeviceRequest) -> Response:
        query = WatermelonPullQuery.parse(request.query_params)
        body = watermelon.pull(
            user=request.user,
            device=request.device,
            last_pulled_at=query["last_pulled_at"],
            migration_tables=query["migration"],
            request=request,
        )
        metrics.PULLS.labels("watermelon", "ok").inc()
        return Response(body)


class WatermelonPushView(APIView):
    """WatermelonDB's pushChanges: the changes object, merged field by field (docs/watermelondb.md)."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "sync"

    @extend_schema(
        parameters=[
            OpenApiParameter("last_pulled_at", str, description="lastPulledAt as WatermelonDB gives it."),
            OpenApiParameter(
                "server_version",
                str,
                enum=["kept"],
                description="`kept`: the app's conflictResolver keeps the local server_version of an edited row "
                "(docs/watermelondb.md), so each row says which version its edit started from.",
            ),
        ],
        request=dict,
        responses={200: dict},
    )
    def post(self, request: DeviceRequest) -> Response:
        try:
            return self._push(request)
        except DomainError as exc:
            metrics.push_refused("watermelon", exc.code)
            raise

    def _push(self, request: DeviceRequest) -> Response:
        with push_engine.push_slot():  # before the body is parsed: a push turned away costs no parsing
            body = request.data
            given: Any = request.query_params.get("last_pulled_at")
            # Either the changes object itself, or {changes, lastPulledAt}.
            if isinstance(body, dict) and isinstance(body.get("changes"), dict) and "lastPulledAt" in body:
                given, body = body["lastPulledAt"], body["changes"]
            last_pulled_at = watermelon.parse_last_pulled_at(given)
            try:
                outcome = watermelon.push(
                    user=request.user,
                    device=request.device,
                    changes=body,
                    last_pulled_at=last_pulled_at,
                    app_version=request.headers.get("X-App-Version", "")[:40],
                    request=request,
                    kept_server_version=request.query_params.get("server_version") == "kept",
                )
            except IntegrityError:
                raise _push_clashed() from None
        metrics.PUSHES.labels("watermelon", "ok").inc()
        return Response(outcome)


class ConflictListView(ListAPIView[Conflict]):
    """Conflicts you caused, and (supervisors) your teams' conflicts. ?status=open|resolved"""

    serializer_class = ConflictOutput

    def get_queryset(self) -> QuerySet[Conflict]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Conflict.objects.none()
        qs = own_or_reviewed(Conflict.objects.all(), self.request.user, "incoming_author").order_by("-created_at", "id")
        return _with_status(qs, self.request, Conflict.Status.values)


class ConflictResolveView(APIView):
    """Supervisors: keep the server's value, take the incoming one, or set a new one."""

    @extend_schema(request=ConflictResolveInput, responses={200: ConflictResolveOutput})
    def post(self, request: DeviceRequest, conflict_id: UUID) -> Response:
        data = ConflictResolveInput(data=request.data)
        data.is_valid(raise_exception=True)
        conflict = services.conflict_resolve(
            conflict_id=conflict_id, actor=request.user, request=request, **data.validated_data
        )
        return Response(ConflictResolveOutput(conflict, context={"request": request}).data)


class QuarantineListView(ListAPIView[Mutation]):
    """Mutations the server could not apply (rejected) or that wait for earlier ones (pending)."""

    serializer_class = QuarantineOutput

    def get_queryset(self) -> QuerySet[Mutation]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return self.serializer_class.Meta.model.objects.none()
        return services.quarantine_queryset(self.request.user)


class QuarantineReplayView(APIView):
    """Apply a corrected copy of a rejected mutation (its author or a supervisor)."""

    @extend_schema(request=ReplayInput, responses={200: MutationResult})
    def post(self, request: DeviceRequest, mutation_id: UUID) -> Response:
        data = ReplayInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(
            services.mutation_replay(
                mutation_id=mutation_id, actor=request.user, request=request, **data.validated_data
            )
        )


class QuarantineDismissView(APIView):
    """Supervisors: close a rejected mutation that should not be applied. It stays on record."""

    @extend_schema(request=None, responses={200: QuarantineOutput})
    def post(self, request: DeviceRequest, mutation_id: UUID) -> Response:
        return Response(
            QuarantineOutput(
                services.mutation_dismiss(mutation_id=mutation_id, actor=request.user, request=request),
                context={"request": request},
            ).data
        )


class AmendmentListView(ListAPIView[Amendment]):
    """Amendment requests to records on approved shift logs: your own, and (supervisors) your teams'."""

    serializer_class = AmendmentOutput

    def get_queryset(self) -> QuerySet[Amendment]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Amendment.objects.none()
        qs = own_or_reviewed(Amendment.objects.all(), self.request.user, "requested_by").order_by("-created_at", "id")
        return _with_status(qs, self.request, Amendment.Status.values)
