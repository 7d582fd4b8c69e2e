from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
SEED_A = SEEDS / "000_7c5a8bd566a2bac6.txt"
SEED_B = SEEDS / "004_8c3e1bb58083379b.txt"


def pytest_collection_modifyitems(items):
    """Property-based tests (hypothesis) are marked `fuzz`: thousands of generated inputs each,
    they are the slow half of the pure-Python tests; `make test` runs them, `make test-fast`
    leaves them out."""
    for item in items:
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            item.add_marker(pytest.mark.fuzz)


def pytest_unconfigure(config):
    """Prefect's temporary servers started in this process (a flow called in a test) are stopped
    here, quietly: left to Prefect's ``atexit``, each one logged "Stopping temporary server" to
    a stream pytest had closed, a logging traceback after every session that ran a flow
    in-process."""
    import logging
    import sys

    if "prefect.server.api.server" not in sys.modules:
        return
    from prefect.server.api.server import SubprocessASGIServer, subprocess_server_logger

    level = subprocess_server_logger.level
    subprocess_server_logger.setLevel(logging.WARNING)
    try:
        for server in list(SubprocessASGIServer._instances.values()):
            server.stop()
    finally:
        subprocess_server_logger.setLevel(level)


@pytest.fixture(scope="session")
def seed_studies():
    from mappers.readers import read_document

    return {
        path.stem[:3]: read_document(path.read_bytes(), f"seeds/{path.name}")[0] for path in (SEED_A, SEED_B)
    }
