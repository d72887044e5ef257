"""Fixtures of the extension's SQL tests. Supabase's API roles and the auth schema of a
Supabase app (client_roles, app_db) are the shared ones of tests/conftest.py."""
import pytest

from plugin.helpers import Slot


@pytest.fixture
def slot(app_db):
    return Slot(app_db)
