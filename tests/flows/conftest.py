import pytest

# Tests that need a Prefect server are marked (see pyproject.toml's markers): `server`,
# `crash` and `browser` tests run flows too. The rest run without one, in seconds.
_NEEDS_PREFECT = ("prefect", "server", "crash", "browser")


@pytest.fixture(scope="session")
def prefect_server():
    """One temporary Prefect server (own SQLite database) for every flow test of the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(autouse=True)
def _prefect_when_marked(request):
    if any(request.node.get_closest_marker(name) for name in _NEEDS_PREFECT):
        request.getfixturevalue("prefect_server")


@pytest.fixture(scope="session")
def fhir_server():
    """One test FHIR server (Medplum, tests/fhir_server) for the session, shared by the publish
    and the sync tests; ``server`` resets it (data, counters, faults) per test."""
    from tests.flows.publish.server import FhirServer

    server = FhirServer().start()
    yield server
    server.stop()


@pytest.fixture
def server(fhir_server):
    fhir_server.reset()
    return fhir_server
