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
    assert buckets_for({"partners": 300, "deals": 4_000}, conf) == 8
    assert buckets_for({"partners": 1_000_000, "deals": 10_000_000}, conf) == 50  # partners
    many = {"partners": 1_000_000, "deals": 11_000_000, "activities": 78_000_000}
    assert buckets_for(many, conf) == 90  # rows: ~1,000,000 a bucket
    assert buckets_for({"partners": 10}, {"spark.sql.shuffle.partitions": "2"}) == 2


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


def test_a_worker_error_crosses_whole_with_its_problems() -> None:
    import traceback

    from features.spark.session import worker_error, worker_job
    from tierwise.errors import DataValidationError, Problem

    problems = [
        Problem("below 0", file="bucket 2", table="deals", column="amount", value=-5.0),
        Problem("not a date", table="partners", column="joined_at", value="31/02"),
    ]

    def job(table: object) -> object:
        raise DataValidationError("bucket 2: 2 data problems", problems)

    with pytest.raises(RuntimeError) as info:
        worker_job(job)("a bucket")
    # what Spark's PythonException carries: the worker's traceback as text, JVM frames after
    text = "".join(traceback.format_exception(info.value)) + "\tat org.apache.spark.X(X.scala:1)\n"
    error = worker_error(text)
    assert isinstance(error, DataValidationError)
    assert error.detail == "bucket 2: 2 data problems"
    assert error.problems == problems
    assert worker_job(lambda t: f"done {t}")("ok") == "done ok"
    with pytest.raises(ValueError, match="not ours"):
        worker_job(lambda t: (_ for _ in ()).throw(ValueError("not ours")))("x")


def test_a_bad_row_in_a_bucket_is_named_by_its_id(tables: Tables) -> None:
    from features.spark.buckets import bucket_tables
    from tierwise.errors import DataValidationError

    deals = tables.deals.head(40).reset_index(drop=True)
    deals.loc[7, "amount"] = -5.0
    activities = tables.activities.head(30).reset_index(drop=True)
    activities.loc[3, "kind"] = "séance"
    frames = {"partners": [tables.partners], "deals": [deals], "activities": [activities]}
    with pytest.raises(DataValidationError) as info:
        bucket_tables(frames, label="bucket 4")
    found = {p.table: p for p in info.value.problems}
    assert found["deals"].row is None and found["deals"].column == "amount"
    assert found["deals"].value == -5.0
    assert f"the row with deal_id {deals.loc[7, 'deal_id']!r}" in found["deals"].message
    where = f"partner_id {activities.loc[3, 'partner_id']!r}, occurred_at '20"
    assert where in found["activities"].message
    assert found["activities"].value == "séance"
