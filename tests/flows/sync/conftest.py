import pytest

from tests.flows.sync.registry import Registry


@pytest.fixture
def registry():
    """A fresh stand-in API serving the fixture records, on its own port."""
    stand_in = Registry.of_fixtures().start()
    yield stand_in
    stand_in.stop()
