from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.windows import DAY_NS, NAT, EventIndex, _tick_unit, days_since, ratio

SECOND = 1_000_000_000


def brute(
    entity: np.ndarray, times: np.ndarray, values: np.ndarray, e: int, t: int, window: int | None
) -> tuple[int, float]:
    lo = -(2**62) if window is None else t - window * DAY_NS
    mask = (entity == e) & (times < t) & (times >= lo) & (times != NAT)
    return int(mask.sum()), float(values[mask].sum())


events = st.lists(
    st.tuples(st.integers(0, 4), st.integers(0, 40 * DAY_NS), st.integers(-5, 5)),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(
    events=events,
    queries=st.lists(st.tuples(st.integers(0, 4), st.integers(-DAY_NS, 42 * DAY_NS)), min_size=1),
    window=st.sampled_from([None, 1, 7, 30]),
)
def test_counts_and_totals_match_brute_force(
    events: list[tuple[int, int, int]], queries: list[tuple[int, int]], window: int | None
) -> None:
    entity = np.array([e for e, _, _ in events], dtype=np.int64)
    # snap some times to whole seconds so that many events share a tick with a query
    times = np.array([t - t % SECOND if t % 3 else t for _, t, _ in events], dtype=np.int64)
    values = np.array([v for _, _, v in events], dtype=np.float64)
    index = EventIndex.build(entity, times, 5, {"v": values})
    qe = np.array([e for e, _ in queries], dtype=np.int64)
    qt = np.array([t - t % SECOND if t % 2 else t for _, t in queries], dtype=np.int64)
    probe = index.probe(qe, qt)
    counts, totals = probe.count(window), probe.total("v", window)
    for i, (e, t) in enumerate(zip(qe, qt, strict=True)):
        n, total = brute(entity, times, values, int(e), int(t), window)
        assert counts[i] == n
        assert totals[i] == pytest.approx(total)


def test_same_second_events_are_split_exactly_at_the_query_instant() -> None:
    base = 10 * DAY_NS
    times = np.array([base + 1, base + 5, base + 9, base + 2 * SECOND], dtype=np.int64)
    index = EventIndex.build(np.zeros(4, np.int64), times, 1)
    got = index.probe(np.zeros(4, np.int64), np.array([base, base + 5, base + 6, base + 10**10]))
    assert list(got.count()) == [0, 1, 2, 4]


def test_last_time_and_value() -> None:
    times = np.array([3 * DAY_NS, DAY_NS, 2 * DAY_NS], dtype=np.int64)
    scores = {"score": np.array([7.0, 5.0, 9.0])}
    index = EventIndex.build(np.array([0, 0, 1]), times, 3, scores, keep=("score",))
    probe = index.probe(np.array([0, 0, 1, 2]), np.full(4, 3 * DAY_NS))
    assert list(probe.last_time()) == [DAY_NS, DAY_NS, 2 * DAY_NS, NAT]
    assert probe.last_value("score")[:3].tolist() == [5.0, 5.0, 9.0]
    assert np.isnan(probe.last_value("score")[3])


def test_unknown_entities_and_missing_times_are_left_out() -> None:
    index = EventIndex.build(np.array([-1, 0, 0]), np.array([1, NAT, 2]), 1)
    assert len(index) == 1


def test_empty_stream_answers_zero() -> None:
    index = EventIndex.build(np.zeros(0, np.int64), np.zeros(0, np.int64), 3, {"v": np.zeros(0)})
    probe = index.probe(np.array([0, 2]), np.array([5, 5]))
    assert list(probe.count()) == [0, 0] and list(probe.total("v", 30)) == [0, 0]
    assert list(probe.last_time()) == [NAT, NAT]


def test_answers_come_back_in_the_callers_order() -> None:
    index = EventIndex.build(np.array([0, 1, 1]), np.array([1, 1, 2]), 2)
    assert list(index.probe(np.array([1, 0, 1]), np.array([9, 9, 2])).count()) == [2, 1, 1]


def test_tick_unit_grows_only_when_keys_would_overflow() -> None:
    assert _tick_unit(100 * 365 * DAY_NS, 10**6) == SECOND
    unit = _tick_unit(2**62, 2**40)
    assert unit > SECOND
    assert (2**40 + 1) * (2**62 // unit + 2) < 2**63


def test_ratio_of_empty_denominator_is_missing() -> None:
    out = ratio(np.array([1.0, 0.0, 2.0]), np.array([2.0, 0.0, 0.0]))
    assert out[0] == 0.5 and np.isnan(out[1]) and np.isnan(out[2])


def test_days_since_never_is_missing() -> None:
    out = days_since(np.array([3 * DAY_NS, 3 * DAY_NS]), np.array([DAY_NS, NAT]))
    assert out[0] == 2.0 and np.isnan(out[1])
