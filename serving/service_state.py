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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tierwise.errors import ModelError, NotReady, Problem, TierwiseError
from tierwise.settings import Settings

if TYPE_CHECKING:
    from rules import Rulebook
    from serving.metrics import Metrics
    from serving.recommend import Models
    from training.propensity import Propensities

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loaded:
    """One consistent set: rulebook + churn and deal models, and when they were loaded."""

    rulebook: Rulebook
    models: Models
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def fingerprint(self) -> Fingerprint:
        propensity = self.models.propensity
        return (
            self.rulebook.content_hash,
            str(self.models.churn.version),
            str(self.models.deal.version) if self.models.deal is not None else "",
            propensity.version if propensity is not None else "",
        )


Loader = Callable[[Settings], Loaded]
# rulebook hash, churn, deal and propensity versions ("": not loaded)
Fingerprint = tuple[str, str, str, str]


def load_from_settings(settings: Settings) -> Loaded:
    """The rulebook from settings.rules_dir and both models from the MLflow registry by alias."""
    from rules import load_rulebook
    from serving.recommend import Models
    from training.scorer import load_scorer

    rulebook = load_rulebook(settings.rules_dir)
    uri = settings.mlflow_tracking_uri
    reopen_registry(uri)
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
        propensity=_propensities(settings, rulebook, uri),
        propensity_name=settings.propensity_model,
    )
    return Loaded(rulebook=rulebook, models=models)


def _propensities(settings: Settings, rulebook: Rulebook, uri: str) -> Propensities | None:
    """The learned propensities under this rulebook's priors, when the rulebook asks for any
    and a table is registered (else the priors are used, and answers say `prior`)."""
    from training.propensity_registry import load_propensities

    priors = {a.id: a.prior for a in rulebook.actions if a.prior is not None}
    if not priors or not _registered(settings.propensity_model, uri):
        return None
    table = load_propensities(settings.propensity_model, settings.model_alias, uri)
    return table.with_priors(priors)


def _registered(name: str, uri: str) -> bool:
    """Whether `name` is a registered model at all (training skips the deal model for data
    without rejected registrations); an unreachable registry raises as before."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)  # not the process-wide registry
    return bool(client.search_registered_models(f"name = '{name}'"))


def registry_fingerprint(settings: Settings) -> Fingerprint:
    """What a reload would load, cheaply: rulebook hash and the aliases' model versions (the
    propensity table's only when the rulebook asks for learned propensities, as the loader)."""
    from mlflow import MlflowClient

    from rules import load_rulebook

    reopen_registry(settings.mlflow_tracking_uri)
    client = MlflowClient(tracking_uri=settings.mlflow_tracking_uri)
    rulebook = load_rulebook(settings.rules_dir)
    names = [settings.churn_model, settings.deal_model]
    if any(a.prior is not None for a in rulebook.actions):
        names.append(settings.propensity_model)
    versions = [
        str(client.get_model_version_by_alias(name, settings.model_alias).version)
        if name == settings.churn_model or _registered(name, settings.mlflow_tracking_uri)
        else ""
        for name in names
    ] + [""] * (3 - len(names))
    return (rulebook.content_hash, versions[0], versions[1], versions[2])


def reopen_registry(uri: str) -> None:
    """Read a SQLite registry from its path afresh on every load or check.

    MLflow keeps one engine per URI for the life of the process, holding the file it first
    opened: a renamed registry would still answer and a deleted-then-restored one would fail
    until restart. A missing file is an error here (SQLite would create an empty one).
    """
    if not uri.startswith("sqlite:"):
        return
    from sqlalchemy.engine import make_url

    database = make_url(uri).database
    if database and database != ":memory:" and not Path(database).is_file():
        raise ModelError(
            f"The MLflow registry file {database} does not exist",
            [Problem("registry file not found", column="MLFLOW_TRACKING_URI", value=uri)],
        )
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore

    for store in (RegistryStore, TrackingStore):
        with store._engine_map_lock:
            engine = store._engine_map.pop(uri, None)
        if engine is not None:
            engine.dispose()


class ServiceState:
    """Holds the current `Loaded` (or None: not ready) and reloads it safely."""

    def __init__(
        self,
        settings: Settings,
        *,
        loader: Loader = load_from_settings,
        fingerprint: Callable[[Settings], Fingerprint] = registry_fingerprint,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.loader = loader
        self.fingerprint = fingerprint
        self.metrics = metrics
        self.current: Loaded | None = None
        self.last_error: str | None = None
        self.last_failure_at: datetime | None = None
        self.loading = False
        self.settled = threading.Event()  # set once the start-up load has ended either way
        self.on_load: list[Callable[[], None]] = []  # called after each successful (re)load
        self._lock = threading.Lock()

    def require(self) -> Loaded:
        """The loaded set, or 503 NotReady saying why nothing is loaded."""
        current = self.current
        if current is None:
            if self.loading:
                reason = "loading the rulebook and models (start-up)"
            else:
                reason = self.last_error or "the rulebook and models are not loaded yet"
            raise NotReady(f"Not ready: {reason}")
        return current

    def degraded(self) -> str | None:
        """Why the loaded set may be stale: the last reload or registry check failed."""
        if self.current is None or self.last_error is None or self.last_failure_at is None:
            return None
        return (
            f"the last reload failed at {self.last_failure_at:%Y-%m-%dT%H:%M:%SZ} "
            f"({self.last_error}); serving the set loaded at "
            f"{self.current.loaded_at:%Y-%m-%dT%H:%M:%SZ}"
        )

    def start(self) -> None:
        """First load at start-up; on failure the service starts not ready (and logs why).

        The app runs this in the background: /healthz answers while it loads, /readyz says
        it is loading, however long an unreachable registry takes to give up.
        """
        self.loading = True
        try:
            self.reload()
        except TierwiseError as exc:
            log.error("starting NOT READY: %s", exc)
        finally:
            self.loading = False
            self.settled.set()

    def reload(self) -> Loaded:
        """Load a complete new set and swap it in; on failure keep the previous one and raise."""
        with self._lock:
            try:
                new = self.loader(self.settings)
            except Exception as exc:
                self.last_error = _describe(exc)
                self.last_failure_at = datetime.now(UTC)
                self._count("failed")
                log.error("reload failed, keeping %s: %s", self._describe_current(), exc)
                if isinstance(exc, TierwiseError):
                    raise
                raise ModelError(f"Reload failed: {self.last_error}") from exc
            self.current = new
            self.last_error = self.last_failure_at = None
            self._count("ok")
            self.publish()
            for listener in self.on_load:
                listener()
            log.info("loaded %s", self._describe_current())
            return new

    def reload_if_changed(self) -> bool:
        """The periodic check: reload when the rulebook or an alias moved (or nothing loaded)."""
        current = self.current
        try:
            with self._lock:
                if current is not None and self.fingerprint(self.settings) == current.fingerprint():
                    self.last_error = self.last_failure_at = None
                    return False
        except Exception as exc:
            log.warning("registry check failed, keeping the loaded models: %s", exc)
            self.last_error = f"registry check: {_describe(exc)}"
            self.last_failure_at = datetime.now(UTC)
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
        learned = f", propensities v{fp[3]}" if fp[3] else ""
        return (
            f"rulebook {current.rulebook.version} ({fp[0][:12]}), models {fp[1]}/{fp[2]}{learned}"
        )


def _describe(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
