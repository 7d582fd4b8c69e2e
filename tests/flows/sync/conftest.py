import pytest

# The publish tests' Medplum fixtures, for the syncs that publish (defined once, over there).
from tests.flows.publish.conftest import fhir_server, server  # noqa: F401
from tests.flows.sync.registry import Registry


@pytest.fixture
def registry():
    """A fresh stand-in API serving the fixture records, on its own port."""
    stand_in = Registry.of_fixtures().start()
    yield stand_in
    stand_in.stop()
