"""`tierwise features --engine spark`: the feature frame built per partner bucket.

The SAME `build_features` runs on each bucket's tables; each bucket's frame is written by its
executor as `<out>/part-<bucket>.parquet` (a Parquet dataset `pd.read_parquet(out)` and
`spark.read.parquet(out)` read whole), so no machine ever holds the whole program.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
import pyarrow as pa

from features.spark.buckets import (
    blob_row,
    blobs_of,
    bucket_blobs,
    bucket_tables,
    by_bucket,
    duplicate_keys,
    families,
)
from features.spark.frames import BLOB_SCHEMA, arrow_table, from_blob, to_blob
from features.spark.session import worker_errors, worker_job


@dataclass(frozen=True)
class FeatureJob:
    """One bucket: validate its tables, build its features, write its part."""

    as_of: datetime
    year_start: int
    out_uri: str

    def __call__(self, table: pa.Table) -> pa.Table:
        from features.snapshot import build_features

        bucket = int(table.column("bucket")[0].as_py())
        pieces: dict[str, list[pd.DataFrame]] = defaultdict(list)
        for name, frame in blobs_of(table):
            pieces[name].append(frame)
        tables = bucket_tables(pieces, label=f"bucket {bucket}")
        frame = build_features(tables, as_of=self.as_of, year_start=self.year_start)
        write_part(self.out_uri, bucket, frame)
        shape = pd.DataFrame({"rows": [len(frame)], "columns": [frame.shape[1]]})
        return blob_row(bucket, "shape", to_blob(shape))


def build_features_spark(
    tables: dict[str, Any],
    *,
    as_of: datetime,
    out_uri: str,
    buckets: int,
    year_start: int = 1,
    label: str | None = None,
) -> tuple[int, int]:
    """Write the feature frame as of `as_of` to `out_uri`; (rows, columns) written.

    `label` names the source in errors (its folder or table prefix)."""
    job = FeatureJob(as_of, year_start, out_uri)
    fresh_folder(out_uri)
    duplicate_keys(tables, label=label or "the Spark tables")
    blobs = bucket_blobs(tables, buckets=buckets, family=families(tables))
    shapes = by_bucket(blobs, buckets).applyInArrow(worker_job(job), BLOB_SCHEMA)
    with worker_errors():
        payloads = shapes.toArrow().column("payload").to_pylist()
    frames = [from_blob(p) for p in payloads]
    rows = sum(int(f["rows"].iloc[0]) for f in frames)
    return rows, max((int(f["columns"].iloc[0]) for f in frames), default=0)


def fresh_folder(out_uri: str) -> None:
    """Empty `out_uri` (a re-run with fewer buckets must not leave an earlier run's parts)."""
    import pyarrow.fs as pafs

    fs, root = pafs.FileSystem.from_uri(out_uri)
    if fs.get_file_info(root).type != pafs.FileType.NotFound:
        fs.delete_dir_contents(root)


def write_part(out_uri: str, bucket: int, frame: pd.DataFrame, name: str = "") -> None:
    """`<out>[/<name>.parquet]/part-<bucket>.parquet`, written from the executor (local or any
    URI pyarrow reaches: s3://, gs://, hdfs://). A retried task overwrites its own part."""
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    fs, root = pafs.FileSystem.from_uri(out_uri)
    folder = f"{root.rstrip('/')}/{name}.parquet" if name else root.rstrip("/")
    fs.create_dir(folder, recursive=True)
    table = arrow_table(frame.reset_index(drop=True))
    pq.write_table(table, f"{folder}/part-{bucket:05d}.parquet", filesystem=fs)
