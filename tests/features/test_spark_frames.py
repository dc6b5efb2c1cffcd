"""The Spark engine's pure parts (no Spark needed): frames as Arrow blobs, buckets, --conf."""

from __future__ import annotations

import zlib

import pandas as pd
import pyarrow as pa
import pytest

from features.spark.buckets import bucket_of, nanos_as_timestamps
from features.spark.frames import concat_frames, from_blob, to_blob
from features.spark.session import SparkOptions, buckets_for, parse_conf, session_conf
from features.tables import Tables
from tierwise.errors import InvalidInput


def _mixed(tables: Tables) -> pd.DataFrame:
    """Real columns of the simulated program plus the kinds the weekly frames hold."""
    deals = tables.deals.head(6).reset_index(drop=True)
    return deals.assign(
        kind=pd.Categorical(["a", "b", "a", "c", "b", "a"]),
        count=pd.array([1, None, 3, None, 5, 6], dtype="Int64"),
        reasons=[["x", "y"], [], ["z"], ["x"], [], ["y"]],
        details=[{"track": "resell", "n": 1.5}, {"track": "referral"}, {}, None, {"a": None}, {}],
    )


def test_a_frame_survives_the_blob_round_trip(tables: Tables) -> None:
    frame = _mixed(tables)
    back = from_blob(to_blob(frame))
    pd.testing.assert_frame_equal(back, frame)
    assert isinstance(back["registered_at"].dtype, pd.DatetimeTZDtype)
    assert back["details"].tolist()[0] == {"track": "resell", "n": 1.5}  # no struct padding
    assert back["reasons"].tolist()[1] == []  # lists, not numpy arrays


def test_concat_keeps_categoricals_with_every_category(tables: Tables) -> None:
    frame = _mixed(tables)
    both = concat_frames([frame.iloc[:3], frame.iloc[3:].assign(kind=pd.Categorical(["d"] * 3))])
    assert isinstance(both["kind"].dtype, pd.CategoricalDtype)
    assert list(both["kind"].dtype.categories) == ["a", "b", "c", "d"]  # in order first seen
    assert both["kind"].tolist() == ["a", "b", "a", "d", "d", "d"]


def test_buckets_are_crc32_of_the_partner_id(tables: Tables) -> None:
    ids = tables.partners["partner_id"]
    buckets = bucket_of(ids, 7)
    assert buckets.tolist() == [zlib.crc32(p.encode()) % 7 for p in ids]
    assert set(buckets) == set(range(7))  # 300 partners reach every bucket


def test_nanosecond_longs_become_utc_timestamps_again() -> None:
    when = pd.Timestamp("2026-11-23 10:15:00.123456789", tz="UTC")
    table = pa.table({"partner_id": ["p1"], "occurred_at": [when.value], "kind": ["call"]})
    fixed = nanos_as_timestamps("activities", table)
    assert fixed.column("occurred_at").type == pa.timestamp("ns", tz="UTC")
    assert fixed.column("occurred_at").to_pandas().iloc[0] == when
    assert fixed.column("kind").type == pa.string()  # other columns untouched


def test_conf_settings_are_parsed_and_win_over_the_defaults() -> None:
    conf = parse_conf(["spark.executor.memory=4g", "spark.sql.shuffle.partitions = 3"])
    assert conf == {"spark.executor.memory": "4g", "spark.sql.shuffle.partitions": "3"}
    merged = session_conf(SparkOptions(master="local[2]", conf=conf))
    assert merged["spark.sql.shuffle.partitions"] == "3"
    assert merged["spark.sql.session.timeZone"] == "UTC"
    assert "spark.sql.shuffle.partitions" not in session_conf(SparkOptions(master="yarn"))


@pytest.mark.parametrize("bad", ["executor.memory=4g", "spark.executor.memory", "spark.x="])
def test_a_bad_conf_setting_is_named(bad: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_conf(["spark.ok=1", bad])
    assert [p.value for p in info.value.problems] == [bad]


def test_bucket_count_follows_the_program_size() -> None:
    conf = {"spark.sql.shuffle.partitions": "8"}
    assert buckets_for(300, conf) == 8
    assert buckets_for(1_000_000, conf) == 50


def test_a_tierwise_error_from_a_worker_comes_back_as_itself() -> None:
    from features.spark.session import worker_error
    from tierwise.errors import DataValidationError

    text = (
        "An exception was thrown from the Python worker:\nTraceback (most recent call last):\n"
        '  File "x.py", line 1, in f\n'
        "tierwise.errors.DataValidationError: bucket 3: 1 data problem (1 bad row)\n"
        "  - deals row 4 column amount: below 0 (value -5.0)\n"
        "\tat org.apache.spark.api.python.BasePythonRunner.read(PythonRunner.scala:1)\n"
    )
    error = worker_error(text)
    assert isinstance(error, DataValidationError)
    assert "amount" in error.detail and "-5.0" in error.detail
    assert "org.apache" not in error.detail
    assert worker_error("ValueError: not ours") is None
