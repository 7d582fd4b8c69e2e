import pytest


@pytest.fixture(scope="session", autouse=True)
def prefect_server():
    """One temporary Prefect server (own SQLite database) for every flow test of the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
