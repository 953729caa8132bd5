"""The field app: the form descriptions it is built from (API), its shell, service worker and manifest."""

from pathlib import Path

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.http import require_GET
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from . import forms

STATIC = Path(__file__).resolve().parent / "static" / "fieldapp"
LANGUAGES = ("en", "es")


def _language(request):
    wanted = request.GET.get("lang") or translation.get_language_from_request(request)
    wanted = (wanted or "en").split("-")[0].lower()
    return wanted if wanted in LANGUAGES else "en"


FormsOutput = inline_serializer(
    "Forms",
    {
        "form_version": serializers.CharField(help_text="Send it as form_version on every mutation."),
        "language": serializers.CharField(),
        "types": serializers.ListField(child=serializers.DictField()),
        "programs": serializers.ListField(child=serializers.DictField()),
        "roles": serializers.ListField(child=serializers.DictField()),
    },
)


class FormsView(APIView):
    """Every record type's form: labels, choices, required fields, help, JSON shapes, cross-field rules and
    the fields only some roles may set. Generated from the same registry and models that validate a push."""

    permission_classes = [permissions.AllowAny]

    @extend_schema(
        parameters=[OpenApiParameter("lang", str, enum=list(LANGUAGES), description="Label language (en, es).")],
        responses={200: FormsOutput},
    )
    def get(self, request):
        language = _language(request)
        with translation.override(language):
            body = forms.describe()
        return Response({"form_version": forms.form_version(), "language": language, **body})


@require_GET
def index(request):
    """The app shell. Everything after this page is loaded runs from the service worker's cache when offline."""
    return render(request, "fieldapp/index.html", {"form_version": forms.form_version()})


@require_GET
def service_worker(request):
    """Served from /app/ so its scope is the app (a worker under /static/ could only control /static/)."""
    response = HttpResponse((STATIC / "sw.js").read_bytes(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["Service-Worker-Allowed"] = "/app/"
    return response


@require_GET
def manifest(request):
    response = HttpResponse((STATIC / "manifest.webmanifest").read_bytes(), content_type="application/manifest+json")
    response["Cache-Control"] = "no-cache"
    return response
