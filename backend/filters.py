"""Filter fields that refuse what the database would choke on (a 400, never a 500)."""

from datetime import timedelta

import django_filters
from django import forms
from django.core.exceptions import ValidationError

from .dates import try_parse_moment

MAX_OFFSET = timedelta(hours=14)


class BoundedIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 date-time (a bare date is its midnight here) in the years backend/dates.py allows, read by
    it like every other date a client sends; an offset beyond 14 hours is out of range."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        moment = try_parse_moment(value)
        if moment is None:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        offset = moment.utcoffset()
        if offset is not None and abs(offset) > MAX_OFFSET:
            raise ValidationError("The UTC offset is out of range.", code="out_of_range")
        return moment


class BoundedIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = BoundedIsoDateTimeField


class BoundedIntegerFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", 2**31 - 1)
        super().__init__(*args, **kwargs)
