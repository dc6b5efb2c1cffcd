"""pandas frames as Arrow IPC blobs, and back, with the dtypes pandas itself would read.

A blob is an Arrow IPC stream of one frame (`pa.Table.from_pandas`, pandas metadata kept), so
categoricals, tz-aware timestamps, nullable integers and list columns come back exactly as
they left. Spark only moves the bytes; the frames are built by pyarrow's own `to_pandas`, the
reader `pd.read_parquet` uses — no PySpark pandas conversion is involved (PySpark 4.3 does not
fully support pandas 3).
"""

from __future__ import annotations

import json
import pickle
import warnings
from collections.abc import Sequence

import pandas as pd
import pyarrow as pa

BLOB_SCHEMA = "bucket int, table string, payload binary"
PICKLED = b"tierwise.pickled"


def to_blob(frame: pd.DataFrame) -> bytes:
    """One frame as Arrow IPC stream bytes (index dropped). Cells holding Python dicts or
    lists (a decision's `details`, an action's `reasons`) are pickled one by one: Arrow would
    turn dicts into structs with every key and lists into numpy arrays."""
    frame = frame.reset_index(drop=True)
    pickled = [str(c) for c in frame.columns if _holds_containers(frame[c])]
    if pickled:
        frame = frame.assign(**{c: [pickle.dumps(v) for v in frame[c]] for c in pickled})
    table = arrow_table(frame)
    meta = {**(table.schema.metadata or {}), PICKLED: json.dumps(pickled).encode()}
    table = table.replace_schema_metadata(meta)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def arrow_table(frame: pd.DataFrame) -> pa.Table:
    """`pa.Table.from_pandas` as `DataFrame.to_parquet` calls it: pandas 3.1 warns when pyarrow
    reads a tz-aware column's `.values`, and pandas silences that for its own writer too."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
        return pa.Table.from_pandas(frame, preserve_index=False)


def from_blob(payload: bytes) -> pd.DataFrame:
    """The frame `to_blob` wrote."""
    with pa.ipc.open_stream(pa.py_buffer(payload)) as reader:
        table = reader.read_all()
    frame = table_frame(table)
    pickled = json.loads((table.schema.metadata or {}).get(PICKLED, b"[]"))
    for column in pickled:
        frame[column] = pd.Series([pickle.loads(v) for v in frame[column]], dtype=object)
    return frame


def _holds_containers(column: pd.Series) -> bool:
    if column.dtype != object:
        return False
    first = column.dropna()
    return len(first) > 0 and isinstance(first.iloc[0], (dict, list, tuple))


def table_frame(table: pa.Table) -> pd.DataFrame:
    """An Arrow table as pandas reads it from Parquet: timestamps stay tz-aware (UTC when Spark
    sent them: the session runs in UTC), strings are pandas' `str`, ints with nulls float."""
    return table.to_pandas()


def concat_frames(pieces: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Stack frames of one kind, keeping categoricals categorical (categories unioned in the
    order first seen) where plain `pd.concat` would fall back to object."""
    pieces = [p for p in pieces if len(p.columns)]
    if not pieces:
        return pd.DataFrame()
    if len(pieces) == 1:
        return pieces[0].reset_index(drop=True)
    categorical = [
        c
        for c in pieces[0].columns
        if all(c in p and isinstance(p[c].dtype, pd.CategoricalDtype) for p in pieces)
    ]
    if categorical:
        union = {c: _union_categories([p[c] for p in pieces]) for c in categorical}
        pieces = [p.astype(union) for p in pieces]
    return pd.concat(pieces, ignore_index=True)


def _union_categories(columns: Sequence[pd.Series]) -> pd.CategoricalDtype:
    seen: dict[object, None] = {}
    for column in columns:
        dtype = column.dtype
        assert isinstance(dtype, pd.CategoricalDtype)
        seen.update(dict.fromkeys(dtype.categories))
    ordered = bool(getattr(columns[0].dtype, "ordered", False))
    return pd.CategoricalDtype(list(seen), ordered=ordered)
