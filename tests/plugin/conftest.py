"""Fixtures of the output plugin's tests."""
import pytest

from .helpers import Slot


@pytest.fixture
def slot(db):
    return Slot(db)
