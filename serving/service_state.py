"""What the service scores with: the active rulebook and both models, swapped atomically.

A reload builds a complete new `Loaded` first and only then replaces the reference the
request handlers read, so a request sees either the old pair or the new pair, never a mix;
a reload that fails keeps the previous ones serving (and is logged and counted).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tierwise.errors import ModelError, NotReady, TierwiseError
from tierwise.settings import Settings

if TYPE_CHECKING:
    from rules import Rulebook
    from serving.metrics import Metrics
    from serving.recommend import Models

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loaded:
    """One consistent set: rulebook + churn and deal models, and when they were loaded."""

    rulebook: Rulebook
    models: Models
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def fingerprint(self) -> tuple[str, str, str]:
        return (
            self.rulebook.content_hash,
            str(self.models.churn.version),
            str(self.models.deal.version) if self.models.deal is not None else "",
        )


Loader = Callable[[Settings], Loaded]


def load_from_settings(settings: Settings) -> Loaded:
    """The rulebook from settings.rules_dir and both models from the MLflow registry by alias."""
    from rules import load_rulebook
    from serving.recommend import Models
    from training.scorer import load_scorer

    rulebook = load_rulebook(settings.rules_dir)
    uri = settings.mlflow_tracking_uri
    churn = load_scorer(settings.churn_model, settings.model_alias, uri)
    deal = None
    if _registered(settings.deal_model, uri):
        deal = load_scorer(settings.deal_model, settings.model_alias, uri)
    else:
        log.warning("no %s registered: deals are not scored", settings.deal_model)
    models = Models(
        churn=churn,
        deal=deal,
        churn_name=settings.churn_model,
        deal_name=settings.deal_model,
        alias=settings.model_alias,
    )
    return Loaded(rulebook=rulebook, models=models)


def _registered(name: str, uri: str) -> bool:
    """Whether `name` is a registered model at all (training skips the deal model for data
    without rejected registrations); an unreachable registry raises as before."""
    from mlflow import MlflowClient

    return bool(MlflowClient(tracking_uri=uri).search_registered_models(f"name = '{name}'"))


def registry_fingerprint(settings: Settings) -> tuple[str, str, str]:
    """What a reload would load, cheaply: rulebook hash and the aliases' model versions."""
    from mlflow import MlflowClient

    from rules import load_rulebook

    client = MlflowClient(tracking_uri=settings.mlflow_tracking_uri)
    versions = [
        str(client.get_model_version_by_alias(name, settings.model_alias).version)
        if name == settings.churn_model or _registered(name, settings.mlflow_tracking_uri)
        else ""
        for name in (settings.churn_model, settings.deal_model)
    ]
    return (load_rulebook(settings.rules_dir).content_hash, versions[0], versions[1])


class ServiceState:
    """Holds the current `Loaded` (or None: not ready) and reloads it safely."""

    def __init__(
        self,
        settings: Settings,
        *,
        loader: Loader = load_from_settings,
        fingerprint: Callable[[Settings], tuple[str, str, str]] = registry_fingerprint,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.loader = loader
        self.fingerprint = fingerprint
        self.metrics = metrics
        self.current: Loaded | None = None
        self.last_error: str | None = None
        self._lock = threading.Lock()

    def require(self) -> Loaded:
        """The loaded set, or 503 NotReady saying why nothing is loaded."""
        current = self.current
        if current is None:
            reason = self.last_error or "the rulebook and models are not loaded yet"
            raise NotReady(f"Not ready: {reason}")
        return current

    def start(self) -> None:
        """First load at start-up; on failure the service starts not ready (and logs why)."""
        try:
            self.reload()
        except TierwiseError as exc:
            log.error("starting NOT READY: %s", exc)

    def reload(self) -> Loaded:
        """Load a complete new set and swap it in; on failure keep the previous one and raise."""
        with self._lock:
            try:
                new = self.loader(self.settings)
            except Exception as exc:
                self.last_error = _describe(exc)
                self._count("failed")
                log.error("reload failed, keeping %s: %s", self._describe_current(), exc)
                if isinstance(exc, TierwiseError):
                    raise
                raise ModelError(f"Reload failed: {self.last_error}") from exc
            self.current = new
            self.last_error = None
            self._count("ok")
            self.publish()
            log.info("loaded %s", self._describe_current())
            return new

    def reload_if_changed(self) -> bool:
        """The periodic check: reload when the rulebook or an alias moved (or nothing loaded)."""
        current = self.current
        try:
            if current is not None and self.fingerprint(self.settings) == current.fingerprint():
                return False
        except Exception as exc:
            log.warning("registry check failed, keeping the loaded models: %s", exc)
            self._count("check_failed")
            return False
        try:
            self.reload()
        except TierwiseError:
            return False
        return True

    def versions(self) -> dict[str, Any]:
        current = self.current
        if current is None:
            return {}
        return {
            "rulebook": current.rulebook.version,
            "rulebook_hash": current.rulebook.content_hash,
            **{m.name: m.version for m in current.models.infos()},
        }

    def publish(self) -> None:
        """Show the loaded versions (or not-ready) in the metrics."""
        loaded = self.current
        if self.metrics is None:
            return
        if loaded is None:
            self.metrics.ready.set(0)
            return
        triples = [("rulebook", loaded.rulebook.version, loaded.rulebook.content_hash)]
        triples += [("model", m.name, m.version) for m in loaded.models.infos()]
        self.metrics.set_loaded(triples)
        self.metrics.ready.set(1)

    def _count(self, result: str) -> None:
        if self.metrics is not None:
            self.metrics.reloads.labels(result).inc()

    def _describe_current(self) -> str:
        current = self.current
        if current is None:
            return "nothing (not ready)"
        fp = current.fingerprint()
        return f"rulebook {current.rulebook.version} ({fp[0][:12]}), models {fp[1]}/{fp[2]}"


def _describe(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
