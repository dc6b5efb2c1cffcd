"""The one settings object. Every field can be set with a `TIERWISE_` environment variable."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_RULES_DIR = Path(__file__).resolve().parent.parent / "rules" / "default"


class ApiKey(BaseSettings):
    """An API key as configured: only its SHA-256 hash is kept."""

    key_sha256: str
    role: str  # scorer | integration | manager | admin
    manager_id: str | None = None
    name: str = ""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TIERWISE_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Local data directory (tables, DBs, output)")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the service database; default SQLite in data_dir"
    )
    rules_dir: Path = Field(PACKAGE_RULES_DIR, description="Directory of the active rulebook")
    churn_model: str = "tierwise-churn"
    deal_model: str = "tierwise-deal-acceptance"
    propensity_model: str = "tierwise-propensity"  # learned propensities (optional)
    model_alias: str = "champion"
    horizon_days: int = Field(90, ge=1, description="Churn horizon in days")
    promotion_min_auc: float = Field(0.6, ge=0, le=1, description="No promotion below this AUC")
    promotion_max_ece: float = Field(
        0.02, ge=0, le=1, description="No promotion above this ECE (+ the test set's noise)"
    )

    # serving
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    public_url: str | None = Field(
        None, description="The service's URL for clients (OpenAPI `servers`); default host:port"
    )
    max_batch: int = Field(500, ge=1, description="Largest /v1/score/batch request")
    max_body_bytes: int = Field(2_000_000, ge=1024, description="Largest request body accepted")
    reload_interval_s: float = Field(300.0, ge=0, description="Periodic registry check; 0 = off")
    api_keys: list[ApiKey] = Field(default_factory=list, description="JSON list of hashed keys")
    session_secret: str = Field(
        "", description="Signs review cookies; the service refuses to start without one"
    )
    session_max_age_s: int = Field(12 * 3600, ge=60, description="Review session lifetime")
    cookie_secure: bool | None = Field(
        None,
        description="Secure cookies: None = when the request came over https; "
        "true behind a TLS-terminating proxy",
    )
    rate_limit_per_minute: int = Field(
        6000, ge=0, description="Requests a minute per API key and process (0 = no limit)"
    )
    auth_failures_per_minute: int = Field(
        30, ge=1, description="401 answers a minute per client address before 429"
    )
    access_log: bool = Field(True, description="One JSON line per request (tierwise.access)")
    gzip_min_bytes: int = Field(2048, ge=0, description="Compress answers at least this big")
    idempotency_ttl_hours: float = Field(
        24.0, gt=0, description="How long an Idempotency-Key and its answer are kept"
    )
    webhook_interval_s: float = Field(
        5.0, ge=0, description="How often due webhooks go out; 0 = off"
    )
    webhook_timeout_s: float = Field(5.0, gt=0, description="Seconds a receiver has to answer")
    webhook_backoff_s: float = Field(10.0, gt=0, description="First retry delay (then doubled)")
    webhook_max_attempts: int = Field(8, ge=1, description="Attempts before a delivery fails")

    # weekly plan
    manager_capacity: int = Field(10, ge=1, description="Actions per manager per week")

    @property
    def mlflow_tracking_uri(self) -> str:
        """MLflow's own MLFLOW_TRACKING_URI wins; otherwise a SQLite store in data_dir."""
        uri = os.environ.get("MLFLOW_TRACKING_URI")
        if uri:
            return uri
        return f"sqlite:///{(self.data_dir / 'mlflow.db').resolve()}"

    @property
    def mlflow_artifact_root(self) -> str:
        return (self.data_dir / "mlartifacts").resolve().as_uri()

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'tierwise.db').resolve()}"


WEAK_SECRETS = frozenset({"", "change-me-in-production", "changeme", "secret"})


def session_secret_problem(secret: str) -> str | None:
    """Why a session secret may not be used, or None when it may."""
    if secret.strip() in WEAK_SECRETS:
        return "TIERWISE_SESSION_SECRET is empty or a known default"
    if len(secret) < 16:
        return "TIERWISE_SESSION_SECRET is shorter than 16 characters"
    return None


@lru_cache
def get_settings() -> Settings:
    return Settings()
