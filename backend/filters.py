"""Filter fields that refuse what the database would choke on (a 400, never a 500)."""

from datetime import timedelta

import django_filters
from django import forms
from django.core.exceptions import ValidationError

MAX_OFFSET = timedelta(hours=14)


class BoundedIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return value
        offset = value.utcoffset()
        if offset is not None and abs(offset) > MAX_OFFSET:
            raise ValidationError("The UTC offset is out of range.", code="out_of_range")
        if not 1900 <= value.year <= 2200:
            raise ValidationError("The date is out of range.", code="out_of_range")
        return value


class BoundedIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = BoundedIsoDateTimeField


class BoundedIntegerFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", 2**31 - 1)
        super().__init__(*args, **kwargs)
