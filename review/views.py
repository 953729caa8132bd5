from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.errors import DomainError
from incidents.models import Shift
from records.access import in_reviewed_teams
from records.registry import get_spec
from records.wire import to_wire
from sync.serializers import AmendmentOutput

from . import services

COMMENT = inline_serializer("ReviewComment", {"comment": serializers.CharField(required=False, max_length=2000)})


def _comment(request):
    data = request.data if isinstance(request.data, dict) else {}
    comment = data.get("comment", "")
    if not isinstance(comment, str) or len(comment) > 2000:
        raise DomainError(
            "validation_error",
            "Some fields are not valid.",
            fields={"comment": [{"code": "invalid", "message": "Text up to 2000 characters."}]},
        )
    return comment


class ShiftStepView(APIView):
    """Move a shift log through close-out: submit (crew), approve or return (supervisors)."""

    step = None

    @extend_schema(request=COMMENT, responses={200: OpenApiTypes.OBJECT})
    def post(self, request, shift_id):
        comment = _comment(request)
        if self.step == "submit":
            shift = services.shift_submit(actor=request.user, shift_id=shift_id, request=request)
        elif self.step == "approve":
            shift = services.shift_approve(actor=request.user, shift_id=shift_id, comment=comment, request=request)
        else:
            shift = services.shift_return(actor=request.user, shift_id=shift_id, comment=comment, request=request)
        return Response(to_wire(get_spec("shift"), shift, request.user))


class ShiftInQueue(serializers.Serializer):
    id = serializers.UUIDField()
    call_sign = serializers.CharField()
    team = serializers.IntegerField()
    review_status = serializers.CharField()
    submitted_at = serializers.DateTimeField()


class ReviewQueueView(ListAPIView):
    """Submitted shift logs waiting for review in the teams you supervise, oldest first."""

    serializer_class = ShiftInQueue

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Shift.objects.none()
        return (
            in_reviewed_teams(
                Shift.objects.filter(review_status=Shift.ReviewStatus.SUBMITTED, deleted_at__isnull=True),
                self.request.user,
            )
            .select_related("program")
            .order_by("submitted_at", "id")
        )

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([to_wire(get_spec("shift"), s, request.user) for s in page])


class AmendmentDecisionView(APIView):
    """Accept (the change applies, flagged late) or decline an amendment to an approved shift log."""

    accept = True

    @extend_schema(request=COMMENT, responses={200: AmendmentOutput})
    def post(self, request, amendment_id):
        amendment = services.amendment_decide(
            actor=request.user,
            amendment_id=amendment_id,
            accept=self.accept,
            comment=_comment(request),
            request=request,
        )
        return Response(AmendmentOutput(amendment, context={"request": request}).data)
