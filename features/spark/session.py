"""The Spark session Tierwise runs on: master and `spark.*` settings from the command line.

    with spark_session(SparkOptions(master="local[2]", conf={"spark.executor.memory": "4g"})):
        ...

Python workers run this interpreter (`PYSPARK_PYTHON` = `sys.executable`: the project's
venv, where pandas and LightGBM are), the session's time zone is UTC (timestamps cross the
engine as UTC instants), logs are quiet (WARN) and the UI is off; a local master gets few
shuffle partitions. Under `spark-submit` / on Databricks the session that exists is reused.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tierwise import errors
from tierwise.errors import ConfigurationError, InvalidInput, Problem, TierwiseError

log = logging.getLogger(__name__)

DEFAULT_MASTER = "local[*]"
DEFAULTS = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    # pandas writes nanosecond timestamps, which Spark reads only as int64 nanoseconds;
    # `buckets` turns the contract's timestamp columns back into UTC timestamps
    "spark.sql.legacy.parquet.nanosAsLong": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.pythonUDF.arrow.enabled": "true",
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
}
PARTNERS_PER_BUCKET = 20_000
ROWS_PER_BUCKET = 1_000_000  # all tables' rows together
WORKER_ERROR = re.compile(r"^tierwise\.errors\.(\w+): (.*?)(?=\n\s*at |\n\n|\Z)", re.M | re.S)
LOCAL_DEFAULTS = {"spark.sql.shuffle.partitions": "8", "spark.default.parallelism": "8"}


@dataclass(frozen=True)
class SparkOptions:
    """Where to run: the master URL and any `spark.*` settings (they win over the defaults).

    `master=None`: `local[*]`, or under `spark-submit` the master it was given."""

    master: str | None = None
    conf: Mapping[str, str] = field(default_factory=dict)
    app_name: str = "tierwise"


def parse_conf(items: Sequence[str]) -> dict[str, str]:
    """`["spark.executor.memory=4g", ...]` → a dict; a bad item is named with its value."""
    conf: dict[str, str] = {}
    problems = []
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key.startswith("spark.") or not value.strip():
            problems.append(Problem("expected spark.<name>=<value>", column="--conf", value=item))
        else:
            conf[key] = value.strip()
    if problems:
        raise InvalidInput(f"{len(problems)} bad --conf setting(s)", problems)
    return conf


def buckets_for(rows: Mapping[str, int], conf: Mapping[str, str]) -> int:
    """How many partner buckets, from the rows per table (`table_rows`): at most ~1,000,000
    rows and 20,000 partners each — a bucket's tables cross the JVM as blobs and its frames
    fill a Python worker, so the rows bound memory (at 1,000,000 partners x 90 rows each,
    buckets of 20,000 partners ran a 2 GB driver heap out of memory) — and never fewer than
    the shuffle partitions, so every core has work."""
    floor = int(conf.get("spark.sql.shuffle.partitions", "8"))
    by_rows = -(-sum(rows.values()) // ROWS_PER_BUCKET)
    by_partners = -(-rows.get("partners", 0) // PARTNERS_PER_BUCKET)
    return max(floor, by_rows, by_partners)


WIRE = "tierwise-error-json: "  # how a worker's Tierwise error crosses Spark's traceback text


def worker_job(job: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`job` as a plain one-argument function (Spark reads a callable object's arity as two)
    whose Tierwise errors cross to the driver whole: class, detail and every problem, as one
    JSON line in the worker's traceback (`worker_errors` rebuilds them)."""

    def run(table: Any) -> Any:
        try:
            return job(table)
        except TierwiseError as exc:
            payload = {
                "class": type(exc).__name__,
                "detail": exc.detail,
                "problems": [p.to_dict() for p in exc.problems],
            }
            raise RuntimeError(WIRE + json.dumps(payload, default=repr)) from exc

    return run


@contextmanager
def worker_errors() -> Iterator[None]:
    """A Tierwise error raised in a Python worker comes back as itself, its detail and its
    problems intact (Spark wraps it in a `PythonException` holding the worker's traceback as
    text; `worker_job` put the error there as JSON)."""
    try:
        yield
    except TierwiseError:
        raise
    except Exception as exc:
        found = worker_error(str(exc))
        if found is None:
            raise
        raise found from exc


def worker_error(text: str) -> TierwiseError | None:
    """The Tierwise error in a worker traceback, rebuilt: whole from `worker_job`'s JSON line,
    else the last `tierwise.errors.<Class>: message` (the message only)."""
    wired = [line.split(WIRE, 1)[1] for line in text.splitlines() if WIRE in line]
    if wired:
        payload = json.loads(wired[-1])
        cls = getattr(errors, str(payload.get("class")), None)
        if isinstance(cls, type) and issubclass(cls, TierwiseError):
            problems = [Problem(**p) for p in payload.get("problems", [])]
            return cls(str(payload["detail"]), problems)
    matches = list(WORKER_ERROR.finditer(text))
    if not matches:
        return None
    name, message = matches[-1].group(1), matches[-1].group(2).strip()
    cls = getattr(errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, TierwiseError)):
        return None
    return cls(message)


def session_conf(options: SparkOptions) -> dict[str, str]:
    local = (options.master or DEFAULT_MASTER).startswith("local") and not submitted()
    return {**DEFAULTS, **(LOCAL_DEFAULTS if local else {}), **options.conf}


def submitted() -> bool:
    """Running under `spark-submit` (its JVM started this Python and set the gateway)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


@contextmanager
def spark_session(options: SparkOptions) -> Iterator[Any]:
    """A started session (stopped on exit unless it was already running)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ConfigurationError(
            "the Spark engine needs pyspark: pip install -e '.[spark]' (make test installs it)",
            [Problem("pyspark is not installed", value=str(exc))],
        ) from exc
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    existing = SparkSession.getActiveSession()
    if existing is not None:
        yield existing
        return
    builder = SparkSession.builder.appName(options.app_name)
    if options.master or not submitted():
        builder = builder.master(options.master or DEFAULT_MASTER)
    for key, value in session_conf(options).items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # Java missing, a bad master URL …: say which and why
        master = options.master or DEFAULT_MASTER
        raise ConfigurationError(
            f"cannot start Spark ({master}): {exc}",
            [Problem("Spark did not start", column="--spark-master", value=master)],
        ) from exc
    spark.sparkContext.setLogLevel("WARN")
    log.info("Spark %s on %s", spark.version, spark.sparkContext.master)
    try:
        yield spark
    finally:
        spark.stop()
