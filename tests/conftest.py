import pytest

from helpers import aws, emulator_reset


@pytest.fixture
def emulator():
    """An empty test emulator (never the `make local` one: see Makefile TEST_ENV)."""
    emulator_reset()
    return aws
