"""Reports for supervisors, program admins, coordinators and analysts; public statistics for everyone."""


from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.models import AuditEvent
from audit.services import audit_record
from backend.dates import stored_day
from backend.errors import DomainError
from backend.throttling import AnonRateThrottle
from incidents.choices import Origin
from records.access import report_scope, require_program_role
from responders.models import Program, Role

from . import selectors
from .cad import cad_import, reconcile
from .inputs import CadImportInput, EngagementReportQuery, PublicStatsQuery, ReportPeriod, ReportQuery
from .pages import page_language
from .public import published_months

PARAMS = [
    OpenApiParameter("program", str, required=True, enum=["MACRO", "DVP"]),
    OpenApiParameter("start", str, description="First day (YYYY-MM-DD); default: first of last month."),
    OpenApiParameter("end", str, description="Day after the last (YYYY-MM-DD); default: first of this month."),
    OpenApiParameter("team", int, description="One team; default: every team you may report on."),
]


FIGURES = OpenApiParameter(
    "figures",
    str,
    enum=["as_closed", "current"],
    description="A closed period's figures as of its close (default), with later records as adjustments; "
    "`current`: as the records are now.",
)


def _closed_body(closed):
    return {"closed_at": closed["closed_at"], "adjustments": closed["adjustments"]}


def _scope(request):
    """The program and teams asked for, within the asker's scope (records/access.py::report_scope)."""
    return report_scope(request.user, request.query_params.get("program"), request.query_params.get("team"))


class EngagementReportView(APIView):
    """Engagements by origin, team and month: how much work was on-view or otherwise not a 911 dispatch.

    `as_of` reproduces the counts as they stood then, with what arrived later as a separate difference.
    `export=csv` exports the team x month x origin rows (audited).
    """

    @extend_schema(
        parameters=[*PARAMS, FIGURES, OpenApiParameter("as_of", str), OpenApiParameter("export", str, enum=["csv"])],
        responses={(200, "application/json"): OpenApiTypes.OBJECT, (200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request):
        program, team_ids = _scope(request)
        query = EngagementReportQuery.parse(request.query_params)
        start, end = query["start"], query["end"]
        report = selectors.engagement_report(program=program, team_ids=team_ids, start=start, end=end)
        closed = None
        if query["figures"] != "current":
            closed = selectors.engagement_closed(program=program, team_ids=team_ids, start=start, end=end)
        if closed is not None:
            report, closed = closed["figures"], {**_closed_body(closed), "current": report}
        if query["as_of"] is not None:
            report["as_of"] = selectors.engagement_report_as_of(
                program=program, team_ids=team_ids, start=start, end=end, as_of=query["as_of"]
            )
        body = {"program": program.code, "start": start.isoformat(), "end": end.isoformat(), **report, "closed": closed}
        if query["export"] == "csv":
            audit_record(
                action=AuditEvent.Action.EXPORT,
                actor=request.user,
                program=program,
                object_type="report",
                object_id="engagements",
                request=request,
                start=start.isoformat(),
                end=end.isoformat(),
                teams=sorted(team_ids),
            )
            return selectors.engagements_csv_response(report, start, end)
        return Response(body)


class DvpReportView(APIView):
    """DVP: scene responses per incident, notification-to-arrival time, follow-ups and the contact rule."""

    @extend_schema(parameters=[*PARAMS, FIGURES], responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        program, team_ids = _scope(request)
        if program.code != Program.Code.DVP:
            raise DomainError("invalid_program", "This report is for DVP.")
        query = ReportQuery.parse(request.query_params)
        start, end = query["start"], query["end"]
        report = selectors.dvp_report(program=program, team_ids=team_ids, start=start, end=end)
        closed = None
        if query["figures"] != "current":
            closed = selectors.dvp_closed(program=program, team_ids=team_ids, start=start, end=end)
        if closed is not None:
            report, closed = closed["figures"], {**_closed_body(closed), "current": report}
        return Response(
            {"program": program.code, "start": start.isoformat(), "end": end.isoformat(), **report, "closed": closed}
        )


class ShiftReportView(APIView):
    """Shift logs submitted, approved, returned, and records that arrived after approval (late)."""

    @extend_schema(parameters=PARAMS, responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        program, team_ids = _scope(request)
        start, end = ReportPeriod.parse(request.query_params).values()
        return Response(
            {
                "program": program.code,
                "start": start.isoformat(),
                "end": end.isoformat(),
                **selectors.shift_report(program=program, team_ids=team_ids, start=start, end=end),
            }
        )


def _public(params):
    """Published months: of `year`, or the twelve newest. Arbitrary ranges are refused (docs/reports.md)."""
    return published_months(year=PublicStatsQuery.parse(params)["year"])


def _public_body(newest, months):
    return {
        "months": months,
        "latest_published": newest.isoformat()[:7],
        "publication_delay_days": settings.PUBLIC_STATS_DELAY_DAYS,
        "suppressed_below": 11,
    }


class PublicStatsView(APIView):
    """Public, de-identified counts per closed calendar month, by program and origin. No login.

    A month is published PUBLIC_STATS_DELAY_DAYS after it closes, then frozen. Counts from 1 to 10 are
    suppressed (null), with complementary suppression so none can be derived from the month's total."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [AnonRateThrottle]

    @extend_schema(
        parameters=[OpenApiParameter("year", int, description="A year; default: the twelve newest published months.")],
        auth=[],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        return Response(_public_body(*_public(request.query_params)))


def public_columns():
    """The published table's columns, always all of them, with their labels: (key, program, label)."""
    return [(f"MACRO:{code}", "MACRO", _(label)) for code, label in Origin.choices] + [
        ("DVP:scene_response", "DVP", _("Scene responses"))
    ]


def public_stats_page(request):
    with translation.override(page_language(request)):
        return _public_stats_page(request)


def _public_stats_page(request):
    try:
        newest, months = _public(request.GET)
    except DomainError as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain")
    columns = public_columns()
    rows = [
        {
            "month": stored_day(m["month"] + "-01"),
            "cells": [(label, program, m["cells"].get(key, 0)) for key, program, label in columns],
            "total": m["total"],
        }
        for m in reversed(months)  # newest first
    ]
    year = request.GET.get("year") or ""
    return render(
        request,
        "reports/public_stats.html",
        {
            "rows": rows,
            "columns": columns,
            "delay": settings.PUBLIC_STATS_DELAY_DAYS,
            "newest": newest,
            "year": year,
            "years": [str(newest.year - i) for i in range(5)],
            "any_records": any(m["total"] != 0 for m in months),
            "lang": request.GET.get("lang") if request.GET.get("lang") in ("en", "es") else "",
            "language": translation.get_language(),
        },
    )


class CadImportView(APIView):
    """Import CAD calls from CSV text ({"csv": "..."}): all rows or none; bad rows reported by line number.
    Supervisors and program admins."""

    @extend_schema(
        request=inline_serializer("CadImport", {"program": serializers.CharField(), "csv": serializers.CharField()}),
        responses={200: OpenApiTypes.OBJECT},
    )
    def post(self, request):
        data = CadImportInput.parse(request.data)
        require_program_role(
            request.user,
            data["program"],
            (Role.SUPERVISOR, Role.PROGRAM_ADMIN),
            "CAD imports are for supervisors and program admins.",
        )
        return Response(cad_import(program=data["program"], actor=request.user, text=data["csv"], request=request))


class CadReconciliationView(APIView):
    """CAD calls matched to engagements (by CAD number, else by time and beat); what matches nothing."""

    @extend_schema(parameters=PARAMS, responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        program, team_ids = _scope(request)
        start, end = ReportPeriod.parse(request.query_params).values()
        return Response(
            {
                "program": program.code,
                "start": start.isoformat(),
                "end": end.isoformat(),
                **reconcile(program=program, team_ids=team_ids, start=start, end=end),
            }
        )
