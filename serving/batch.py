"""`POST /v1/score/batch`: every item checked on its own, the valid ones scored together.

Valid items go through the vectorized `recommend_frame` (one batched prediction per model,
the rules over columns) — the same answers as `recommend_one`, which a property test binds
— and come back lean: everything `/v1/score` answers except the condition checks and the
gap to the next tier, which need the per-partner explanation (`?explain=true` gives them,
partner by partner). An invalid item gets its own 422 problem; the others are still scored.
A partner id that appears twice is scored each time and flagged (`duplicate_of`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pydantic_core
from pydantic import ValidationError

from features.lifecycle import status_of
from rules.model import STATE_COLUMNS, Rulebook
from serving import convert, schemas
from serving.arbitration import cooldown_reason
from serving.problems import validation_errors
from serving.reasons import action_by_id
from serving.recommend import recommend_frame
from serving.service_state import Loaded
from tierwise.errors import InvalidInput, Problem

ScoreOne = Callable[[schemas.ScoreRequest, str], schemas.PartnerScore]


def parse_items(raw: bytes, *, max_batch: int) -> list[Any]:
    """The raw items of a batch body; 422 naming the limit when there are too many."""
    try:
        # pydantic's parser: ~3x the standard library's on a full batch; NaN/Infinity parse
        # as json.loads would, so the item validation names them (422), not the parser
        body = pydantic_core.from_json(raw or b"null", allow_inf_nan=True)
    except ValueError as exc:
        raise InvalidInput(
            f"The body is not JSON: {exc}", [Problem("invalid JSON", column="body")]
        ) from exc
    partners = body.get("partners") if isinstance(body, dict) else None
    extra = sorted(set(body) - {"partners"}) if isinstance(body, dict) else []
    if not isinstance(partners, list) or not partners or extra:
        raise InvalidInput(
            f'The body must be {{"partners": [...]}} with 1 to {max_batch} score requests',
            [Problem("a non-empty list", column="body.partners", value=type(partners).__name__)]
            + [Problem(f"unknown field '{name}'", column=f"body.{name}") for name in extra],
        )
    if len(partners) > max_batch:
        raise InvalidInput(
            f"A batch holds at most {max_batch} partners, got {len(partners)}",
            [Problem(f"at most {max_batch} items", column="body.partners", value=len(partners))],
        )
    return partners


def score_items(
    items: Sequence[Any], loaded: Loaded, *, explain: bool, score_one: ScoreOne
) -> schemas.BatchScoreResponse:
    """Per-item results in request order (index, partner_id, status, score or problem)."""
    results: list[dict[str, Any]] = []
    valid: dict[int, schemas.ScoreRequest] = {}
    first: dict[str, int] = {}
    for i, item in enumerate(items):
        at = f"body.partners.{i}"
        entry: dict[str, Any] = {"index": i, "partner_id": _partner_id(item), "status": 200}
        try:
            req = schemas.ScoreRequest.model_validate(item)
            convert.raise_if(convert.request_problems(req, loaded.rulebook, at))
        except ValidationError as exc:
            errors = [{**e, "loc": ("body", "partners", i, *e["loc"])} for e in exc.errors()]
            entry.update(status=422, problem=_problem(validation_errors(errors)))
        except InvalidInput as exc:
            entry.update(status=422, problem=_problem(_problem_errors(exc)))
        else:
            valid[i] = req
            entry["duplicate_of"] = first.setdefault(req.partner_id, i)
            if entry["duplicate_of"] == i:
                entry["duplicate_of"] = None
        results.append(entry)
    scores = (
        {i: score_one(req, f"body.partners.{i}") for i, req in valid.items()}
        if explain
        else lean_scores(valid, loaded)
    )
    for entry in results:
        if entry["status"] == 200:
            entry["score"] = scores[entry["index"]]
    scored = sum(1 for e in results if e["status"] == 200)
    from serving.recommend import versions

    return schemas.BatchScoreResponse.model_validate(
        {
            "results": results,
            "scored": scored,
            "failed": len(results) - scored,
            "versions": versions(loaded.rulebook, loaded.models, None),
        }
    )


def _partner_id(item: Any) -> str | None:
    pid = item.get("partner_id") if isinstance(item, dict) else None
    return pid[:200] if isinstance(pid, str) else None


def _problem(errors: list[dict[str, Any]]) -> dict[str, Any]:
    s = "s" if len(errors) != 1 else ""
    return {
        "title": "Invalid input",
        "status": 422,
        "detail": f"{len(errors)} invalid field{s} in this item",
        "errors": errors,
    }


def _problem_errors(exc: InvalidInput) -> list[dict[str, Any]]:
    from serving.problems import problem_errors

    return problem_errors(exc.problems)


# --- the vectorized path ----------------------------------------------------------------


def lean_scores(
    requests: dict[int, schemas.ScoreRequest], loaded: Loaded
) -> dict[int, dict[str, Any]]:
    """Lean answers of valid requests by index: one `recommend_frame` call per group of
    requests sharing an as_of (a partner id repeated goes to a later group)."""
    groups: dict[tuple[datetime, int], list[int]] = defaultdict(list)
    seen: dict[tuple[datetime, str], int] = defaultdict(int)
    for i, req in requests.items():
        key = (req.as_of, req.partner_id)
        groups[(req.as_of, seen[key])].append(i)
        seen[key] += 1
    out: dict[int, dict[str, Any]] = {}
    for (as_of, _), indices in groups.items():
        group = [requests[i] for i in indices]
        out.update(zip(indices, _score_group(group, loaded, as_of), strict=True))
    return out


def _score_group(
    group: list[schemas.ScoreRequest], loaded: Loaded, as_of: datetime
) -> list[dict[str, Any]]:
    book = loaded.rulebook
    frame = pd.DataFrame.from_records(
        [{**req.features.__dict__, "partner_id": req.partner_id} for req in group]
    )
    histories = [convert.history_map(req.history) for req in group]
    recs = recommend_frame(
        frame,
        rulebook=book,
        models=loaded.models,
        previous=_previous(group),
        history=_history(group, histories),
        as_of=as_of,
    )
    version = recs.versions
    incentives = _by_partner(recs.incentives, ["incentive_id", "reward_type", "amount", "unit"])
    actions = _by_partner(
        recs.actions,
        [
            *("action_id", "title", "sentence", "rank", "priority"),
            *("propensity", "propensity_source", "value", "weight", "reasons"),
        ],
    )
    suppressed = _by_partner(recs.suppressed, ["action_id"])
    decisions = recs.decisions
    score_ids = [c.id for c in book.scorecard]
    rows = _rows(decisions, [*STATE_COLUMNS, "track", "evaluated_tier", "tier", "tier_change"])
    rows_extra = _rows(decisions, ["tier_basis", "churn_risk", "deal_acceptance", "overall"])
    components = _rows(decisions, score_ids)
    out = []
    for n, req in enumerate(group):
        pid = req.partner_id
        d, x = rows[n], rows_extra[n]
        out.append(
            {
                "partner_id": pid,
                "lifecycle_status": status_of(req.features.__dict__),  # as recommend_one
                "churn_risk": x["churn_risk"],
                "deal_acceptance": x["deal_acceptance"],
                "tier": {
                    **_tier(book, d, x["tier_basis"]),
                    "next_review": book.calendar.next_review(
                        as_of, req.features.__dict__.get("tenure_days")
                    ),
                    "on_course_for": d["evaluated_tier"],
                },
                "incentives": incentives.get(pid, []),
                "scorecard": {"components": components[n], "overall": _num(x["overall"])},
                "actions": [
                    {**a, "description": action_by_id(book, a["action_id"]).description}
                    for a in actions.get(pid, [])
                ],
                "suppressed": [
                    {"action_id": s["action_id"], "reason": _why(book, s, histories[n], as_of)}
                    for s in suppressed.get(pid, [])
                ],
                "versions": version,
            }
        )
    return out


def _tier(book: Rulebook, d: dict[str, Any], basis: str) -> dict[str, Any]:
    track = next(t for t in book.tracks if t.id == d["track"])
    tier = track.tier(d["tier"])
    rank = track.ranks[d["tier"]]
    until = d["override_until"]
    return {
        "track": d["track"],
        "tier": d["tier"],
        "evaluated_tier": d["evaluated_tier"],
        "change": d["tier_change"],
        "basis": basis,
        "missed_evaluations": int(d["missed_evaluations"] or 0),
        "override_tier": d["override_tier"],
        "override_reason": d["override_reason"],
        "override_until": None if until is None or pd.isna(until) else until,
        "benefits": dict(tier.benefits) if tier else {},
        "next_tier": track.by_rank.get(rank + 1),
        "gap_to_next": [],
        "checks": [],
    }


def _why(book: Rulebook, s: dict[str, Any], history: dict[str, datetime], as_of: datetime) -> str:
    action = action_by_id(book, s["action_id"])
    return cooldown_reason(action.cooldown_days, history.get(s["action_id"]), as_of) or ""


def _previous(group: list[schemas.ScoreRequest]) -> pd.DataFrame | None:
    rows = [
        {"partner_id": req.partner_id, **convert.previous_state(req.previous).__dict__}
        for req in group
        if req.previous is not None
    ]
    return pd.DataFrame.from_records(rows) if rows else None


def _history(
    group: list[schemas.ScoreRequest], histories: list[dict[str, datetime]]
) -> pd.DataFrame | None:
    rows = [
        {"partner_id": req.partner_id, "action_id": a, "last_done_or_dismissed_at": when}
        for req, history in zip(group, histories, strict=True)
        for a, when in history.items()
    ]
    return pd.DataFrame.from_records(rows) if rows else None


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    """Plain-Python rows (categoricals as str, NaN as None) of some columns."""
    lists = {c: _column(frame[c]) for c in dict.fromkeys(columns)}
    return [dict(zip(lists, values, strict=True)) for values in zip(*lists.values(), strict=True)]


def _column(column: pd.Series) -> list[Any]:
    """A column as plain Python values, a whole column at a time where the dtype allows."""
    if pd.api.types.is_float_dtype(column.dtype):
        return [None if v != v else v for v in column.to_numpy(dtype=np.float64).tolist()]
    if pd.api.types.is_integer_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
        return column.to_numpy().tolist()
    return [v if v.__class__ is str else _plain(v) for v in column.astype(object).tolist()]


def _by_partner(frame: pd.DataFrame, columns: list[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if frame.empty:
        return out
    pids = frame["partner_id"].astype(str).tolist()
    for pid, row in zip(pids, _rows(frame, columns), strict=True):
        out[pid].append(row)
    return out


def _plain(value: Any) -> Any:
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def _num(value: Any) -> float | None:
    return None if value is None else float(value)
