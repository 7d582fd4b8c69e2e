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
