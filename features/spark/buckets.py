"""The program's tables as Spark reads them, cut into partner-hash buckets.

    tables = read_tables(spark, data="s3a://bucket/program/")       # <table>.parquet|csv
    tables = read_tables(spark, table_prefix="prm.tierwise_")        # catalog tables
    blobs = bucket_blobs(tables, buckets=64)                         # (bucket, table, payload)

A bucket is CRC-32 of the partner's *family* id modulo the bucket count — `sf.crc32` in Spark
and `zlib.crc32` in Python give the same number, so frames built on the driver (the stored tier
states) join the right bucket. The family is the top of the partner's `parent_partner_id`
chain (a reseller under a distributor belongs to the distributor's family; a partner without
a parent is its own): a distributor's features read its sub-resellers' deals, so a family
must share a bucket for the per-bucket features to equal the whole program's. Each bucket's
slice of each table is one Arrow IPC blob.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from features.coerce import plain
from features.schema import SCHEMAS, TABLE_NAMES
from features.spark.frames import BLOB_SCHEMA, from_blob, to_blob
from features.tables import Tables
from features.validate import validate_tables
from tierwise.errors import DataValidationError, Problem

REQUIRED = tuple(name for name, schema in SCHEMAS.items() if schema.required)
BOM = "\ufeff"


def read_tables(
    spark: Any, *, data: str | None = None, table_prefix: str | None = None
) -> dict[str, Any]:
    """Spark DataFrames of the contract tables present in a folder (local or any Hadoop URI:
    `<table>.parquet` or `<table>.csv`, read as text like `tierwise validate` does) or in the
    catalog (`<prefix><table>`). A missing required table is a `DataValidationError`."""
    if (data is None) == (table_prefix is None):
        raise DataValidationError(
            "give either a data folder or a table prefix", [Problem("source", value=data)]
        )
    found = _from_catalog(spark, table_prefix) if table_prefix else _from_folder(spark, str(data))
    label = table_prefix or str(data)
    missing = [name for name in REQUIRED if name not in found]
    if missing:
        problems = [Problem("required table is missing", file=label, table=n) for n in missing]
        raise DataValidationError(f"cannot read {label}", problems)
    return found


def _from_folder(spark: Any, data: str) -> dict[str, Any]:
    local = "://" not in data
    if local and not Path(data).is_dir():
        problem = Problem("no such data directory", file=data)
        raise DataValidationError(f"cannot read {data}", [problem])
    found: dict[str, Any] = {}
    problems = []
    for name in TABLE_NAMES:
        paths = {fmt: f"{data.rstrip('/')}/{name}.{fmt}" for fmt in ("parquet", "csv")}
        present = [fmt for fmt, path in paths.items() if _exists(spark, path, local)]
        if len(present) > 1:
            problems.append(Problem(f"both {name}.parquet and {name}.csv: keep one", table=name))
        elif present == ["parquet"]:
            found[name] = spark.read.parquet(paths["parquet"])
        elif present == ["csv"]:
            frame = spark.read.csv(paths["csv"], header=True, inferSchema=False, encoding="UTF-8")
            found[name] = frame.toDF(*[c.lstrip(BOM) for c in frame.columns])
    if problems:
        raise DataValidationError(f"cannot read {data}", problems)
    return found


def _exists(spark: Any, path: str, local: bool) -> bool:
    if local:
        return Path(path).exists()
    jvm = spark.sparkContext._jvm  # Hadoop's FileSystem answers for any URI Spark can read
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    fs = hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    return bool(fs.exists(hadoop_path))


def _from_catalog(spark: Any, prefix: str) -> dict[str, Any]:
    return {
        name: spark.table(f"{prefix}{name}")
        for name in TABLE_NAMES
        if spark.catalog.tableExists(f"{prefix}{name}")
    }


def table_rows(tables: Mapping[str, Any]) -> dict[str, int]:
    """Rows per table (the weekly job's shrink guard compares them run to run), in one job."""
    from pyspark.sql import functions as sf

    names = list(tables)
    tagged = [tables[n].select(sf.lit(n).alias("table")) for n in names]
    union = tagged[0]
    for more in tagged[1:]:
        union = union.unionByName(more)
    counts = {str(r["table"]): int(r["count"]) for r in union.groupBy("table").count().collect()}
    return {name: counts.get(name, 0) for name in names}


KEY_EXAMPLES = 20  # duplicated ids named in the error (all are counted)


def duplicate_keys(tables: Mapping[str, Any], *, label: str) -> None:
    """Refuse ids that more than one row has, across buckets, as `load_tables` refuses them.

    Rows are bucketed by partner, so two rows with one deal id under two partners meet in no
    bucket: the tables keyed by something else than the partner are checked here, on their
    ids alone, in one job (the partners table's own key is checked in its bucket, where all
    of a partner's rows meet). Names the first KEY_EXAMPLES ids and counts the rest."""
    from pyspark.sql import functions as sf

    keyed = []
    for name, frame in tables.items():
        key = SCHEMAS[name].key
        if key and key != "partner_id" and key in frame.columns:
            text = sf.col(key).cast("string")  # compared as written, as pandas compares them
            keyed.append(frame.select(sf.lit(name).alias("table"), text.alias("id")))
    if not keyed:
        return
    ids = keyed[0]
    for more in keyed[1:]:
        ids = ids.unionByName(more)
    ids = ids.where(sf.col("id").isNotNull())  # a missing id is its row's own problem
    repeated = ids.groupBy("table", "id").count().where(sf.col("count") > 1)
    examples = repeated.orderBy("table", "id").limit(KEY_EXAMPLES + 1).collect()
    if not examples:
        return
    totals = (
        dict(repeated.groupBy("table").count().collect()) if len(examples) > KEY_EXAMPLES else {}
    )
    problems = []
    for row in examples[:KEY_EXAMPLES]:
        key = SCHEMAS[row["table"]].key
        problems.append(
            Problem(
                f"duplicated id (more than one row has it): {row['id']!r} in {row['count']} rows",
                file=label,
                table=row["table"],
                column=key,
                value=row["id"],
            )
        )
    for name, count in totals.items():
        problems.append(
            Problem(
                f"{count:,} duplicated ids in all", file=label, table=name, column=SCHEMAS[name].key
            )
        )
    raise DataValidationError(f"{label}: ids are duplicated", problems)


FAMILY_HOPS = 5  # pointer jumping: 5 self-joins resolve parent chains up to 32 levels deep


def families(tables: Mapping[str, Any]) -> Any | None:
    """partner_id → family (the top of its parent chain), as a Spark DataFrame; None when the
    partners carry no `parent_partner_id`. A chain that never ends (a cycle, which validation
    refuses) keeps some member of it as its family."""
    from pyspark.sql import functions as sf

    partners = tables["partners"]
    if "parent_partner_id" not in partners.columns:
        return None
    pid = sf.col("partner_id").cast("string")
    parent = sf.nullif(sf.trim(sf.col("parent_partner_id").cast("string")), sf.lit(""))
    links = partners.select(pid.alias("partner_id"), sf.coalesce(parent, pid).alias("family"))
    for _ in range(FAMILY_HOPS):
        up = links.select(sf.col("partner_id").alias("_up"), sf.col("family").alias("_top"))
        links = links.join(up, links["family"] == up["_up"], "left").select(
            "partner_id", sf.coalesce(sf.col("_top"), sf.col("family")).alias("family")
        )
    return links.dropDuplicates(["partner_id"])


def bucket_of(
    partner_ids: pd.Series, buckets: int, family: Mapping[str, str] | None = None
) -> pd.Series:
    """The bucket of each partner id, as Spark's `pmod(crc32(family), buckets)` gives it."""
    top = family or {}
    values = [zlib.crc32(str(top.get(str(p), p)).encode("utf-8")) % buckets for p in partner_ids]
    return pd.Series(values, index=partner_ids.index, dtype="int32")


def bucket_column(buckets: int, spread: Any = None, family: Any = None) -> Any:
    """`pmod(crc32(family or partner_id), buckets)`; rows without a partner by `spread`."""
    from pyspark.sql import functions as sf

    key = sf.col("partner_id").cast("string")
    if family is not None:
        key = sf.coalesce(family.cast("string"), key)
    if spread is not None:
        key = sf.coalesce(key, spread.cast("string"), sf.lit(""))
    return sf.pmod(sf.crc32(key), sf.lit(buckets)).cast("int")


def bucket_blobs(tables: Mapping[str, Any], *, buckets: int, family: Any | None = None) -> Any:
    """One row per (bucket, table): that bucket's rows of the table as an Arrow IPC blob.

    Rows of one partner family (`families`) share a bucket. Rows without a partner (direct
    deals, customers won directly) feed no partner feature; they are spread by their own key
    and still validated in whichever bucket they land."""
    from pyspark.sql import functions as sf

    blobs = None
    for name, frame in tables.items():
        key = SCHEMAS[name].key
        spread = sf.col(key) if key and key != "partner_id" and key in frame.columns else None
        top = None
        if family is not None and "partner_id" in frame.columns:
            found = family.select(
                sf.col("partner_id").alias("_fid"), sf.col("family").alias("_fam")
            )
            frame = frame.join(
                found, frame["partner_id"].cast("string") == found["_fid"], "left"
            ).drop("_fid")
            top = sf.col("_fam")
        keyed = frame.withColumn("bucket", bucket_column(buckets, spread, top))
        if top is not None:
            keyed = keyed.drop("_fam")
        part = by_bucket(keyed, buckets).applyInArrow(_encoder(name), BLOB_SCHEMA)
        blobs = part if blobs is None else blobs.unionByName(part)
    return blobs


def by_bucket(frame: Any, buckets: int) -> Any:
    """`frame.groupBy("bucket")` over one shuffle partition per bucket (hash collisions
    aside), not the session's few: a partition's rows (a bucket's blobs, up to ~100 MB each)
    are held by its task, so with 8 partitions for 90 buckets a 2 GB heap ran out at
    1,000,000 partners. Grouping by the column it is partitioned by adds no shuffle."""
    return frame.repartition(buckets, "bucket").groupBy("bucket")


def _encoder(name: str) -> Any:
    def encode(table: pa.Table) -> pa.Table:
        bucket = table.column("bucket")[0].as_py()
        rows = nanos_as_timestamps(name, table.drop_columns(["bucket"]))
        return blob_row(bucket, name, ipc_bytes(rows))

    return encode


def nanos_as_timestamps(name: str, table: pa.Table) -> pa.Table:
    """The contract's timestamp columns that Spark read as int64 nanoseconds (pandas' Parquet
    timestamps; `spark.sql.legacy.parquet.nanosAsLong`) as UTC timestamps again."""
    stamps = {c.name for c in SCHEMAS[name].columns if c.kind == "timestamp"}
    for i, field in enumerate(table.schema):
        if field.name in stamps and pa.types.is_integer(field.type):
            column = table.column(i).cast(pa.int64()).cast(pa.timestamp("ns", tz="UTC"))
            table = table.set_column(i, field.name, column)
    return table


def frames_blobs(
    spark: Any,
    frames: Mapping[str, pd.DataFrame],
    *,
    buckets: int,
    family: Mapping[str, str] | None = None,
) -> Any:
    """Driver-side frames keyed by partner_id (e.g. the stored tier states) as bucket blobs
    (`family`: partner_id → family id, as `families` computed it)."""
    rows: list[tuple[int, str, bytes]] = []
    for name, frame in frames.items():
        keys = bucket_of(frame["partner_id"], buckets, family)
        for bucket, part in frame.groupby(keys, sort=True):
            rows.append((int(str(bucket)), name, to_blob(part)))
    return spark.createDataFrame(rows, BLOB_SCHEMA)


def ipc_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def blob_row(bucket: int, name: str, payload: bytes) -> pa.Table:
    return pa.table(
        {
            "bucket": pa.array([bucket], pa.int32()),
            "table": pa.array([name], pa.string()),
            "payload": pa.array([payload], pa.binary()),
        }
    )


def blobs_of(table: pa.Table) -> Iterator[tuple[str, pd.DataFrame]]:
    """(name, frame) for each blob of one bucket's group."""
    names = table.column("table").to_pylist()
    for name, payload in zip(names, table.column("payload").to_pylist(), strict=True):
        yield str(name), from_blob(payload)


def bucket_tables(frames: Mapping[str, list[pd.DataFrame]], *, label: str) -> Tables:
    """One bucket's contract tables, validated exactly as `load_tables` validates a folder.

    Problems name the table, column and value, and each bad row by its id (a row number
    within a bucket would point nowhere in the user's files)."""
    raw = {n: pd.concat(f, ignore_index=True) for n, f in frames.items() if n in SCHEMAS}
    for name in REQUIRED:
        raw.setdefault(name, _empty(name))
    report = validate_tables(raw, source=label)
    # a bucket may hold no deal at all; the whole table's emptiness is checked by its count
    report.findings = [f for f in report.findings if not f.message.endswith("is empty (no rows)")]
    if report.ok and report.tables is not None:
        return report.tables
    error = report.error()
    problems = [_by_id(p, raw) for p in error.problems]
    raise DataValidationError(error.detail, problems)


def _by_id(problem: Problem, raw: Mapping[str, pd.DataFrame]) -> Problem:
    """The problem with its bucket row number replaced by the row's id (or partner and time)."""
    frame = raw.get(problem.table or "")
    if problem.row is None or frame is None or not 0 < problem.row <= len(frame):
        return problem
    schema = SCHEMAS[str(problem.table)]
    row = frame.iloc[problem.row - 1]
    stamps = [c.name for c in schema.columns if c.kind == "timestamp"][:1]
    names = [schema.key] if schema.key else ["partner_id", *stamps]
    shown = ", ".join(f"{n} {plain(row[n])!r}" for n in names if n and n in frame.columns)
    message = f"{problem.message} (the row with {shown})" if shown else problem.message
    return replace(problem, row=None, line=None, message=message)


def _empty(name: str) -> pd.DataFrame:
    """A bucket without deals still has the table, with no rows."""
    return pd.DataFrame({c.name: pd.Series(dtype="str") for c in SCHEMAS[name].columns})
