"""The weekly job on Spark (local[2]) against the pandas engine: the same plans, tier
decisions, incentive awards and ledger, through the same persist code.

Few and small on purpose: one Spark session for the module, a 200-partner program. Locally a
Spark that cannot start skips these; `.ci/run` sets TIERWISE_REQUIRE_SPARK=1, where it fails.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select

from serving.db import IncentiveAward, JobRun, PlanAction, TierDecision, get_engine, session_scope
from serving.db.models import Accrual
from serving.db.reviews import review_action
from serving.spark_week import SparkWeek
from serving.weekly import run_week
from tests.conftest import missing
from tests.serving._weekly import Recommender
from tierwise.errors import DataValidationError
from tierwise.settings import Settings

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.xdist_group("spark")]

W1, W2 = "2026-W48", "2026-W49"


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    try:
        from pyspark import cloudpickle

        from features.spark.session import SparkOptions, spark_session
    except ImportError as exc:
        missing("SPARK", f"pyspark is not installed: {exc}")
    import tests.serving._weekly as stub

    cloudpickle.register_pickle_by_value(stub)  # the test recommender is not installed
    conf = {
        "spark.sql.shuffle.partitions": "2",
        "spark.default.parallelism": "2",
        "spark.sql.warehouse.dir": str(tmp_path_factory.mktemp("warehouse")),
    }
    try:
        with spark_session(SparkOptions(master="local[2]", conf=conf)) as session:
            yield session
    except Exception as exc:  # no Java, a JVM that does not start
        missing("SPARK", f"Spark cannot start: {exc}")


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from simulation.program import simulate, write_simulation

    folder = tmp_path_factory.mktemp("spark-program")
    sim = simulate(partners=200, years=1.0, seed=5, end=datetime(2026, 12, 14, tzinfo=UTC))
    return write_simulation(sim, folder)


def _settings(folder: Path) -> Settings:
    folder.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{folder / 'tierwise.db'}"
    return Settings(data_dir=folder, database_url=url, manager_capacity=3)


def _spark_week(spark: Any, program: Path, **options: Any) -> Any:
    return SparkWeek(spark, data=str(program), buckets=3, **options)


def _stored(settings: Settings, week: str) -> dict[str, pd.DataFrame]:
    """What a week left in the database, without ids and clock times, in a stable order."""
    queries = {
        "decisions": select(
            TierDecision.partner_id,
            TierDecision.previous_tier,
            TierDecision.tier,
            TierDecision.qualified_tier,
            TierDecision.change,
            TierDecision.churn_risk,
            TierDecision.score,
            TierDecision.details,
        ).where(TierDecision.week == week),
        "awards": select(
            IncentiveAward.partner_id, IncentiveAward.incentive_id, IncentiveAward.amount
        ).where(IncentiveAward.week == week),
        "accruals": select(
            Accrual.partner_id, Accrual.incentive_id, Accrual.period, Accrual.amount
        ).where(Accrual.week == week),
        "plan": select(
            PlanAction.partner_id,
            PlanAction.action_id,
            PlanAction.manager_id,
            PlanAction.manager_rank,
            PlanAction.overflow,
            PlanAction.status,
            PlanAction.priority,
            PlanAction.sentence,
        ).where(PlanAction.week == week),
    }
    out = {}
    with session_scope(get_engine(settings.db_url)) as s:
        for name, stmt in queries.items():
            rows = [tuple(map(_plain, r)) for r in s.execute(stmt)]
            out[name] = pd.DataFrame(
                sorted(rows, key=repr), columns=list(stmt.selected_columns.keys())
            )
    return out


def _plain(value: Any) -> Any:
    return repr(sorted(value.items())) if isinstance(value, dict) else value


def _review_first(settings: Settings, week: str, decision: str) -> None:
    with session_scope(get_engine(settings.db_url)) as s:
        stmt = (
            select(PlanAction)
            .where(PlanAction.week == week, PlanAction.overflow.is_(False))
            .order_by(PlanAction.partner_id, PlanAction.action_id)
        )
        action = s.scalars(stmt).first()
        assert action is not None
        who = _Who("admin", None, "root")
        reason = "met them yesterday" if decision == "dismiss" else None
        review_action(
            s, action_id=action.id, reviewer=who, decision=decision, reason=reason, now=_NOW
        )


_NOW = datetime(2026, 11, 25, tzinfo=UTC)


class _Who:
    def __init__(self, role: str, manager_id: str | None, name: str) -> None:
        self.role, self.manager_id, self.name = role, manager_id, name


def _same(left: dict[str, pd.DataFrame], right: dict[str, pd.DataFrame]) -> None:
    assert left.keys() == right.keys()
    for name in left:
        assert len(left[name]) > 0, name
        pd.testing.assert_frame_equal(left[name], right[name], obj=name)


def _plan_file(out: Path) -> pd.DataFrame:
    plan = pd.read_parquet(out / "plan.parquet")
    return plan.assign(reasons=plan["reasons"].map(list))


def test_both_engines_plan_the_same_week(spark: Any, program: Path, tmp_path: Path) -> None:
    """W1 by pandas (with a review: history for W2), then W2 by each engine from that state;
    then a manager reviews a W2 action and W2 runs again on each (the review is pinned)."""
    pandas, on_spark = _settings(tmp_path / "pandas"), _settings(tmp_path / "spark")
    for settings in (pandas, on_spark):  # the same stored state before W2
        run_week(settings, data_dir=program, week=W1, recommender=Recommender())
        _review_first(settings, W1, "done")
    for rerun in (False, True):
        if rerun:
            _review_first(pandas, W2, "dismiss")
            _review_first(on_spark, W2, "dismiss")
        a = run_week(
            pandas, data_dir=program, week=W2, out_dir=tmp_path / "a", recommender=Recommender()
        )
        b = run_week(
            on_spark,
            data_dir=program,
            week=W2,
            out_dir=tmp_path / "b",
            recommender=Recommender(),
            engine=_spark_week(spark, program),
        )
        assert a.summary == b.summary
        assert a.summary["actions_planned"] > 0 and a.summary["incentive_awards"] > 0
        pd.testing.assert_frame_equal(_plan_file(tmp_path / "a"), _plan_file(tmp_path / "b"))
        _same(_stored(pandas, W2), _stored(on_spark, W2))
    assert a.summary["promotions"] + a.summary["demotions"] + a.summary["in_grace"] >= 0
    with session_scope(get_engine(on_spark.db_url)) as s:
        statuses = s.scalars(select(PlanAction.status).where(PlanAction.week == W2)).all()
    assert statuses.count("dismissed") == 1  # the review survived the Spark re-run


def test_catalog_tables_plan_the_same_week(spark: Any, program: Path, tmp_path: Path) -> None:
    """Tables in the Spark catalog (`--table-prefix`), typed as a platform types them:
    microsecond timestamps, not pandas' nanoseconds read as longs."""
    from pyspark.sql import functions as sf

    from features.schema import SCHEMAS

    for name, schema in SCHEMAS.items():
        frame = spark.read.parquet(str(program / f"{name}.parquet"))
        for column in schema.columns:
            if column.kind == "timestamp" and column.name in frame.columns:
                micros = sf.timestamp_micros(sf.floor(sf.col(column.name) / 1000))
                frame = frame.withColumn(column.name, micros)
        frame.write.mode("overwrite").saveAsTable(f"tw_{name}")
    assert dict(spark.table("tw_deals").dtypes)["registered_at"] == "timestamp"
    pandas, on_spark = _settings(tmp_path / "pandas"), _settings(tmp_path / "spark")
    a = run_week(
        pandas, data_dir=program, week=W1, out_dir=tmp_path / "a", recommender=Recommender()
    )
    engine = SparkWeek(spark, table_prefix="tw_", buckets=3)
    b = run_week(
        on_spark,
        data_dir=program,
        week=W1,
        out_dir=tmp_path / "b",
        recommender=Recommender(),
        engine=engine,
    )
    assert a.summary == b.summary
    pd.testing.assert_frame_equal(_plan_file(tmp_path / "a"), _plan_file(tmp_path / "b"))
    # microsecond times move a model's probability in the 14th digit (decision details)
    left, right = _stored(pandas, W1), _stored(on_spark, W1)
    assert len(left["decisions"]) > 0 and len(left["plan"]) > 0  # a first week accrues nothing
    for name in left:
        drop = ["details"] if name == "decisions" else []
        pd.testing.assert_frame_equal(
            left[name].drop(columns=drop), right[name].drop(columns=drop), rtol=1e-9, obj=name
        )


def test_the_parquet_sink_writes_the_same_files(spark: Any, program: Path, tmp_path: Path) -> None:
    pandas, on_spark = _settings(tmp_path / "pandas"), _settings(tmp_path / "spark")
    a_out, b_out = tmp_path / "a", tmp_path / "b"
    a = run_week(
        pandas, data_dir=program, week=W1, out_dir=a_out, recommender=Recommender(), sink="parquet"
    )
    engine = _spark_week(spark, program, sink="parquet", out_uri=str(b_out))
    b = run_week(
        on_spark,
        data_dir=program,
        week=W1,
        out_dir=b_out,
        recommender=Recommender(),
        engine=engine,
        sink="parquet",
    )
    assert a.summary == b.summary
    pd.testing.assert_frame_equal(_plan_file(a_out), _plan_file(b_out))
    for name, keys in (("decisions", ["partner_id"]), ("awards", ["partner_id", "incentive_id"])):
        left = pd.read_parquet(a_out / f"{name}.parquet").sort_values(keys, ignore_index=True)
        right = pd.read_parquet(b_out / f"{name}.parquet").sort_values(keys, ignore_index=True)
        assert len(left) > 0
        pd.testing.assert_frame_equal(left, right, check_dtype=False, obj=name)
    assert engine.bucket_timings["partners"].sum() == a.summary["partners_scored"]
    with session_scope(get_engine(on_spark.db_url)) as s:
        assert s.scalars(select(PlanAction)).first() is None  # nothing in the database
        assert s.scalars(select(JobRun.status)).all() == ["succeeded"]


def test_a_bad_row_fails_the_spark_run_naming_it(spark: Any, program: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(program, bad)
    deals = pd.read_parquet(bad / "deals.parquet")
    deals.loc[deals.index[7], "amount"] = -5.0
    deals.to_parquet(bad / "deals.parquet", index=False)
    problem = _refused(spark, bad, tmp_path).problems[0]  # whole, from the worker
    assert (problem.table, problem.column, problem.value) == ("deals", "amount", -5.0)
    assert repr(str(deals.loc[deals.index[7], "deal_id"])) in problem.message


def _refused(spark: Any, data: Path, tmp_path: Path) -> DataValidationError:
    """The error a Spark week on `data` fails with, having written nothing."""
    settings = _settings(tmp_path / "db")
    with pytest.raises(DataValidationError) as info:
        run_week(
            settings,
            data_dir=data,
            week=W1,
            out_dir=tmp_path / "out",
            recommender=Recommender(),
            engine=_spark_week(spark, data),
        )
    with session_scope(get_engine(settings.db_url)) as s:
        assert s.scalars(select(JobRun.status)).all() == ["failed"]
        assert s.scalars(select(PlanAction)).first() is None
    assert not (tmp_path / "out" / "plan.parquet").exists()
    return info.value


def test_spark_hands_the_tables_over_as_pandas_reads_them(
    spark: Any, program: Path, tmp_path: Path
) -> None:
    """The Arrow conversions the engine relies on: tz-aware UTC timestamps (pandas writes
    nanoseconds), strings, nullable numbers — from Parquet, and text from CSV."""
    from features.io import read_raw
    from features.spark.buckets import blobs_of, bucket_blobs, read_tables
    from features.spark.frames import concat_frames

    folder = tmp_path / "mixed"
    folder.mkdir()
    partners = pd.read_parquet(program / "partners.parquet")
    partners.loc[partners.index[:5], "customer_count"] = None
    partners.to_parquet(folder / "partners.parquet", index=False)
    pd.read_parquet(program / "deals.parquet").to_csv(folder / "deals.csv", index=False)
    expected = read_raw(folder)
    blobs = bucket_blobs(read_tables(spark, data=str(folder)), buckets=3).toArrow()
    got: dict[str, list[pd.DataFrame]] = {}
    for name, frame in blobs_of(blobs):
        got.setdefault(name, []).append(frame)
    for name, want in expected.items():
        frame = concat_frames(got[name]).sort_values(list(want.columns[:2]), ignore_index=True)
        want = want.sort_values(list(want.columns[:2]), ignore_index=True)
        pd.testing.assert_frame_equal(frame, want, check_dtype=name != "partners", obj=name)
    stamps = concat_frames(got["partners"])["joined_at"]
    assert isinstance(stamps.dtype, pd.DatetimeTZDtype) and str(stamps.dt.tz) == "UTC"
    assert concat_frames(got["partners"])["customer_count"].isna().sum() == 5


def test_features_on_spark_are_the_pandas_feature_frame(
    spark: Any, program: Path, tmp_path: Path
) -> None:
    from features.io import load_tables
    from features.snapshot import build_features
    from features.spark.buckets import read_tables
    from features.spark.snapshot import build_features_spark

    as_of = datetime(2026, 11, 23, tzinfo=UTC)
    out = tmp_path / "features.parquet"
    (out / "part-00099.parquet").parent.mkdir(parents=True)
    (out / "part-00099.parquet").write_bytes(b"left over from an earlier run")
    tables = read_tables(spark, data=str(program))
    rows, columns = build_features_spark(tables, as_of=as_of, out_uri=str(out), buckets=3)
    want = build_features(load_tables(program), as_of=as_of)
    got = pd.read_parquet(out).sort_values("partner_id", ignore_index=True)
    assert (rows, columns) == want.shape
    assert sorted(p.name for p in out.iterdir()) == [f"part-{b:05d}.parquet" for b in range(3)]
    pd.testing.assert_frame_equal(got, want.sort_values("partner_id", ignore_index=True))


def test_a_partner_family_shares_a_bucket(spark: Any, program: Path) -> None:
    from features.io import load_tables
    from features.spark.buckets import bucket_of, families, read_tables

    chain = spark.createDataFrame(
        [("A", None), ("B", "A"), ("C", "B"), ("D", "C"), ("E", " "), ("F", "E")],
        "partner_id string, parent_partner_id string",
    )
    found = families({"partners": chain}).toArrow().to_pandas()
    tops = dict(zip(found["partner_id"], found["family"], strict=True))
    assert tops == {"A": "A", "B": "A", "C": "A", "D": "A", "E": "E", "F": "E"}
    assert bucket_of(pd.Series(["D", "F"]), 7, tops).tolist() == [
        bucket_of(pd.Series(["A"]), 7).iloc[0],
        bucket_of(pd.Series(["E"]), 7).iloc[0],
    ]
    # the simulated program's resellers sit in their distributor's family
    partners = load_tables(program).partners
    children = partners.loc[partners["parent_partner_id"].notna()]
    assert len(children) > 0
    got = families(read_tables(spark, data=str(program))).toArrow().to_pandas()
    family = dict(zip(got["partner_id"], got["family"], strict=True))
    assert all(
        family[c] == family[p]
        for c, p in zip(children["partner_id"], children["parent_partner_id"], strict=True)
    )


def test_an_id_two_partners_share_is_refused_across_buckets(
    spark: Any, program: Path, tmp_path: Path
) -> None:
    """A deal id under two partners lands in two buckets, where neither sees it twice: the
    cross-bucket check refuses it as the pandas engine does, and nothing is written."""
    from features.io import load_tables
    from features.spark.buckets import bucket_of

    bad = tmp_path / "dup"
    shutil.copytree(program, bad)
    deals = pd.read_parquet(bad / "deals.parquet")
    owned = deals.dropna(subset=["partner_id"]).drop_duplicates("partner_id")
    buckets = bucket_of(owned["partner_id"], 3)
    first = owned.index[0]
    other = owned.index[(buckets != buckets.iloc[0]).to_numpy()][0]
    deals.loc[other, "deal_id"] = deals.loc[first, "deal_id"]
    deals.to_parquet(bad / "deals.parquet", index=False)
    duplicated = str(deals.loc[first, "deal_id"])
    with pytest.raises(DataValidationError, match="duplicated id"):
        load_tables(bad)  # the pandas engine refuses it
    problem = _refused(spark, bad, tmp_path).problems[0]
    assert (problem.table, problem.column, problem.value) == ("deals", "deal_id", duplicated)
    assert "in 2 rows" in problem.message


def test_many_duplicated_ids_are_counted_and_the_first_named(spark: Any) -> None:
    from features.spark.buckets import KEY_EXAMPLES, duplicate_keys

    ids = [f"C{i:03d}" for i in range(KEY_EXAMPLES + 5)]
    customers = spark.createDataFrame(
        [(c, p) for c in ids for p in ("P1", "P2")] + [(None, "P1"), (None, "P2"), ("C0", "P3")],
        "customer_id string, partner_id string",
    )
    deals = spark.createDataFrame([("D1", "P1"), ("D2", "P2")], "deal_id string, partner_id string")
    with pytest.raises(DataValidationError) as info:
        duplicate_keys({"customers": customers, "deals": deals}, label="prm.tw_")
    problems = info.value.problems
    assert [p.value for p in problems[:KEY_EXAMPLES]] == ids[:KEY_EXAMPLES]
    assert problems[-1].message == f"{KEY_EXAMPLES + 5} duplicated ids in all"
    assert {p.file for p in problems} == {"prm.tw_"} and len(problems) == KEY_EXAMPLES + 1
    duplicate_keys({"deals": deals}, label="ok")
    padded = spark.createDataFrame(
        [("D1", "P1"), (" D1", "P2"), (None, "P1"), (None, "P2")],
        "deal_id string, partner_id string",
    )
    duplicate_keys({"deals": padded}, label="ok")  # compared as written; missing ids aside
