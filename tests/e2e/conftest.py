"""End-to-end fixtures: the platform as real processes (gunicorn with the emulator, a Celery
worker, beat) on a scratch PostgreSQL database and the run's Redis prefix."""

from __future__ import annotations

import pytest

from tests.conftest import REDIS_URL
from tests.e2e.stack import start_stack


@pytest.fixture
def stack(scratch_database, redis_prefix, tmp_path):
    """The stack under row-level security (the opt-in, not the default), so that onboarding,
    C2B and STK payments, crediting and texts are shown to work with it over real processes;
    the tests that start their own stacks run as shipped."""
    with start_stack(scratch_database, REDIS_URL, redis_prefix, tmp_path,
                     row_security=True) as running:
        yield running
