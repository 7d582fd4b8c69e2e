"""What importing ``flows`` sets for Prefect, and that a user's own setting wins."""

import os
import subprocess
import sys

PROBE = (
    "import flows, os\n"
    "from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS as startup\n"
    "print(os.environ['DO_NOT_TRACK'], os.environ['PREFECT_SERVER_ANALYTICS_ENABLED'], startup.value())\n"
)


def probe(**env: str) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DO_NOT_TRACK"))}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True, check=True
    )
    return done.stdout.split()


def test_telemetry_off_and_a_patient_temporary_server_by_default():
    assert probe() == ["1", "false", "60"]


def test_the_users_settings_win():
    assert probe(
        DO_NOT_TRACK="0",
        PREFECT_SERVER_ANALYTICS_ENABLED="true",
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="15",
    ) == ["0", "true", "15"]
