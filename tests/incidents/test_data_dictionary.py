from pathlib import Path

from django.conf import settings

from incidents.management.commands.data_dictionary import render
from records.registry import ordered_specs


def test_committed_data_dictionary_is_current():
    committed = (Path(settings.BASE_DIR) / "docs" / "data-dictionary.md").read_text()
    assert committed == render(), "Run `python manage.py data_dictionary` and commit docs/data-dictionary.md."


def test_every_writable_field_is_documented():
    text = render()
    for spec in ordered_specs():
        for name in spec.policies:
            assert f"| `{name}` |" in text
