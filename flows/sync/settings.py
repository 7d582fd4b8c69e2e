"""How the sync talks to the registry: plain data, from CLI options, flow parameters or
``TRIALEXPORT_SYNC_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_API_URL = "https://clinicaltrials.gov/api/v2"
# The API's own ceiling for pageSize (larger values are refused).
MAX_PAGE_SIZE = 1000


class SyncSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRIALEXPORT_SYNC_", extra="forbid")

    api_url: str = Field(DEFAULT_API_URL, description="ClinicalTrials.gov API v2 base URL")
    page_size: int = Field(
        MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="studies per page asked of the API"
    )
    # NLM asks API users to keep their request rate reasonable; one a second is what a nightly
    # sync needs (a 1,000-study page takes longer than that to store).
    rate_limit: float = Field(1.0, gt=0, description="requests per second at most, retries included")
    attempts: int = Field(5, ge=1, description="tries per request, the first included")
    base_delay: float = Field(1.0, ge=0, description="first backoff, seconds; doubles each try")
    max_delay: float = Field(60.0, ge=0, description="ceiling for one wait, Retry-After included, seconds")
    timeout: float = Field(60.0, gt=0, description="seconds for each of connect / read / write")
    pages_per_task: int = Field(10, ge=1, description="pages fetched by one Prefect task")
    task_retries: int = Field(
        2, ge=0, description="Prefect retries of a page batch whose request kept failing"
    )
    token_restarts: int = Field(
        3, ge=0, description="times paging starts again from the first page when the API refuses a page token"
    )
