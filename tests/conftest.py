import pytest

from .support import Field


@pytest.fixture
def field(db):
    """Two programs, two MACRO teams and a DVP team, a user per role that matters (see tests/support.py)."""
    return Field()


@pytest.fixture
def tfield(transactional_db):
    """The same, for tests whose transactions must really commit (they run in the serial phase)."""
    return Field()
