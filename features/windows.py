"""The windowed-count kernel behind every point-in-time feature.

An `EventIndex` sorts one event stream once by (entity, time) and keeps per-entity running
sums of its value columns. It then answers, for any number of (entity, query time) pairs at
once, "how many events / what total / which last event strictly before t (or in [t - w, t))"
with one `np.searchsorted` per distinct offset of t — so one snapshot, twelve monthly
snapshots and one query per deal registration all share the same sort.

Running sums restart at each entity, so the answer for one entity depends only on that
entity's events before the query time: planting events elsewhere or later leaves it bit-for-bit
unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

DAY_NS = 86_400 * 1_000_000_000
NAT = np.iinfo(np.int64).min  # how NaT looks as int64 nanoseconds

IntArray = np.ndarray
FloatArray = np.ndarray


def to_ns(values: pd.Series) -> IntArray:
    """Timestamps as int64 nanoseconds since the epoch (UTC); NaT becomes `NAT`."""
    stamps = pd.to_datetime(values, utc=True).dt.tz_convert(None).dt.as_unit("ns")
    return stamps.to_numpy(dtype="datetime64[ns]").view(np.int64)


def days(delta_ns: IntArray) -> FloatArray:
    """A nanosecond duration in (fractional) days."""
    return np.asarray(delta_ns, dtype=np.float64) / DAY_NS


def ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    """numerator / denominator, NaN where the denominator is 0 (an empty ratio is missing)."""
    num = np.asarray(numerator, dtype=np.float64)
    den = np.asarray(denominator, dtype=np.float64)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


@dataclass(frozen=True)
class EventIndex:
    """One event stream sorted by (entity, time), with per-entity running sums.

    All entities share one sorted array of int64 keys `entity * stride + tick`, where a tick
    is the event time in coarse units (1 s unless the span is huge) since `origin`. A query
    finds its tick with one `searchsorted` and then steps over the few events in the same tick
    that are still before it, so the answer is exact to the nanosecond.
    """

    times: IntArray  # event times (ns), sorted within each entity
    keys: IntArray  # entity * stride + tick(time), sorted, then one sentinel (int64 max)
    starts: IntArray  # starts[e] .. starts[e + 1]: the positions of entity e
    origin: int = 0  # time (ns) of tick 0
    unit: int = 1_000_000_000  # ns per tick
    stride: int = 1  # ticks per entity band
    sums: dict[str, FloatArray] = field(default_factory=dict)  # inclusive, restart per entity
    values: dict[str, FloatArray] = field(default_factory=dict)  # sorted raw values kept

    @classmethod
    def build(
        cls,
        entity: IntArray,
        times: IntArray,
        n_entities: int,
        values: Mapping[str, np.ndarray] | None = None,
        keep: tuple[str, ...] = (),
    ) -> EventIndex:
        """Index events; those with entity < 0 (unknown) or a NaT time are left out.

        Every value column gets running sums; those named in `keep` also keep their raw
        values (for `Probe.last_value`).
        """
        entity = np.asarray(entity, dtype=np.int64)
        times = np.asarray(times, dtype=np.int64)
        kept = (entity >= 0) & (times != NAT)
        entity, times = entity[kept], times[kept]
        origin = int(times.min()) if len(times) else 0
        span = int(times.max()) - origin if len(times) else 0
        unit = _tick_unit(span, n_entities)
        stride = span // unit + 2
        keys = entity * np.int64(stride) + (times - origin) // unit
        order = _sort_order(keys, times)
        keys, times, entity = keys[order], times[order], entity[order]
        keys = np.append(keys, np.iinfo(np.int64).max)
        starts = np.searchsorted(entity, np.arange(n_entities + 1, dtype=np.int64), "left")
        sorted_values: dict[str, FloatArray] = {}
        sums: dict[str, FloatArray] = {}
        for name, column in (values or {}).items():
            v = np.asarray(column, dtype=np.float64)[kept][order]
            if name in keep:
                sorted_values[name] = v
            sums[name] = _running_sum(v, entity)
        return cls(times, keys, starts, origin, unit, stride, sums, sorted_values)

    def __len__(self) -> int:
        return len(self.times)

    def position(self, entity: IntArray, t: IntArray) -> IntArray:
        """Position of the first event of `entity` at or after `t` (= end of those before t)."""
        entity = np.asarray(entity, dtype=np.int64)
        t = np.asarray(t, dtype=np.int64)
        tick = np.minimum(np.maximum((t - self.origin) // self.unit, 0), self.stride - 1)
        key = entity * np.int64(self.stride) + tick
        pos = np.searchsorted(self.keys, key, "left")
        # step over events of the query's own entity and tick that are still strictly before t
        todo = np.flatnonzero(self.keys[pos] == key)  # the sentinel never matches
        while len(todo):
            todo = todo[self.times[pos[todo]] < t[todo]]
            pos[todo] += 1
            todo = todo[self.keys[pos[todo]] == key[todo]]
        return pos

    def probe(self, entity: IntArray, t: IntArray, order: IntArray | None = None) -> Probe:
        """Ask this stream about (entity, t) pairs (entity codes must be valid: 0 <= e < n).

        `order` (from `query_order(entity, t)`) may be passed to share one sort across probes.
        """
        entity = np.asarray(entity, dtype=np.int64)
        return Probe(self, entity, np.asarray(t, dtype=np.int64), order)


def query_order(entity: IntArray, t: IntArray) -> IntArray | None:
    """The order that sorts queries by (entity, t), or None when they already are.

    Sorted queries make every `searchsorted` walk the keys forward (10-20x faster on millions).
    """
    if len(entity) < 2:
        return None
    step = np.diff(entity)
    if not (np.any(step < 0) or np.any((step == 0) & (np.diff(t) < 0))):
        return None
    return np.lexsort((t, entity))


class Probe:
    """One event stream asked about fixed (entity, t) pairs; each position is searched once.

    Windows and shifts are in days: `count(90)` counts events in [t - 90 d, t),
    `count(90, shift=90)` those in [t - 180 d, t - 90 d), `count()` all events before t.
    Pairs are searched in (entity, t) order; answers come back in the caller's order.
    """

    def __init__(
        self, index: EventIndex, entity: IntArray, t: IntArray, order: IntArray | None = None
    ) -> None:
        self.index = index
        self.order = query_order(entity, t) if order is None else order
        if self.order is not None:
            entity, t = entity[self.order], t[self.order]
        self.entity = entity
        self.t = t
        self.first = index.starts[entity]
        self._positions: dict[int, IntArray] = {}

    def _out(self, values: np.ndarray) -> np.ndarray:
        """Back to the caller's order."""
        if self.order is None:
            return values
        out = np.empty_like(values)
        out[self.order] = values
        return out

    def _at(self, days_back: int) -> IntArray:
        if days_back not in self._positions:
            when = self.t - days_back * DAY_NS
            self._positions[days_back] = self.index.position(self.entity, when)
        return self._positions[days_back]

    def _bounds(self, window: int | None, shift: int) -> tuple[IntArray, IntArray]:
        lo = self.first if window is None else self._at(shift + window)
        return lo, self._at(shift)

    def count(self, window: int | None = None, shift: int = 0) -> FloatArray:
        """Events in [t - shift - window, t - shift) (all before t - shift without a window)."""
        lo, hi = self._bounds(window, shift)
        return self._out((hi - lo).astype(np.float64))

    def total(self, name: str, window: int | None = None, shift: int = 0) -> FloatArray:
        """Sum of value `name` over the events `count` counts."""
        lo, hi = self._bounds(window, shift)
        return self._out(self._prefix(name, hi) - self._prefix(name, lo))

    def _prefix(self, name: str, pos: IntArray) -> FloatArray:
        running = self.index.sums[name]
        if len(running) == 0:
            return np.zeros(len(pos))
        return np.where(pos > self.first, running[np.maximum(pos - 1, 0)], 0.0)

    def _last(self) -> tuple[IntArray, np.ndarray]:
        end = self._at(0)
        return np.maximum(end - 1, 0), end > self.first

    def last_time(self) -> IntArray:
        """Time of the last event before t; `NAT` when there is none."""
        pos, has = self._last()
        if len(self.index) == 0:
            return np.full(len(pos), NAT, dtype=np.int64)
        return self._out(np.where(has, self.index.times[pos], NAT))

    def last_value(self, name: str) -> FloatArray:
        """Value `name` of the last event before t; NaN when there is none."""
        pos, has = self._last()
        if len(self.index) == 0:
            return np.full(len(pos), np.nan)
        return self._out(np.where(has, self.index.values[name][pos], np.nan))


def _tick_unit(span: int, n_entities: int) -> int:
    """The smallest whole number of seconds per tick for which every key fits in int64."""
    limit = 2**62 // max(n_entities + 1, 1)
    seconds = 1
    while span // (seconds * 1_000_000_000) + 2 > limit:
        seconds *= 2
    return seconds * 1_000_000_000


def _sort_order(keys: IntArray, times: IntArray) -> IntArray:
    """Order by key, then by exact time within a tick (stable: ties keep the input order)."""
    order = np.argsort(keys, kind="stable")
    k, t = keys[order], times[order]
    same = k[1:] == k[:-1]
    if not np.any(same & (t[1:] < t[:-1])):
        return order
    runs = np.zeros(len(k), dtype=bool)  # events sharing their tick with a neighbour
    runs[1:] |= same
    runs[:-1] |= same
    sub = np.flatnonzero(runs)
    order[sub] = order[sub][np.lexsort((t[sub], k[sub]))]
    return order


def _running_sum(values: FloatArray, entity: IntArray) -> FloatArray:
    """Cumulative sum restarting at each entity (entity sorted)."""
    if len(values) == 0:
        return values.copy()
    summed = pd.Series(values).groupby(entity, sort=False).cumsum()
    return np.asarray(summed.to_numpy(), dtype=np.float64)


def days_since(t: IntArray, last: IntArray) -> FloatArray:
    """Days from `last` to `t`; NaN where `last` is NAT (never happened)."""
    never = last == NAT
    return np.where(never, np.nan, days(t - np.where(never, t, last)))
