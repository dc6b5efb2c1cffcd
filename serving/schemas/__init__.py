"""The API contract: pydantic request and response models (OpenAPI is generated from these).

The partner-feature model is built from the feature registry, so every registry feature is a
named, typed, documented field: an unknown name, a wrong type, NaN/Infinity, a negative count
or an unknown partner type is rejected with its location — nothing is silently defaulted.
A feature may be `null` or left out (missing: the rules report it as missing, the models score
it as a missing value); the answer's `warnings` then name what was not sent and what it does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    WithJsonSchema,
    create_model,
    model_validator,
)

from features import registry
from features.deal_features import DEAL_INPUTS
from features.schema import SCHEMAS

Id = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        pattern=r"^\S(.*\S)?$",
        description="An id: no leading or trailing whitespace",
    ),
]
FEATURE_MAX = 1e15  # no partner measure is larger; keeps every product (priority) finite
EARLIEST, LATEST = datetime(1900, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)


def _iso_text(value: Any) -> Any:
    """Timestamps come as ISO 8601 text: `0` or `1700000000` are not silently 1970-2023."""
    if isinstance(value, str | datetime):
        return value
    raise ValueError("give an ISO 8601 timestamp with a UTC offset, e.g. 2026-11-23T00:00:00Z")


def _in_range(value: datetime) -> datetime:
    if not EARLIEST.year <= value.year < LATEST.year:
        raise ValueError(f"{value.isoformat()} is outside {EARLIEST.year}–{LATEST.year - 1}")
    return value.astimezone(UTC)  # years 1900–2199 always convert


Moment = Annotated[
    AwareDatetime,
    BeforeValidator(_iso_text),
    AfterValidator(_in_range),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": r"^(19|20|21)\d\d-",
            "description": "ISO 8601 with a UTC offset, years 1900–2199",
        }
    ),
]


def iso_z(moment: datetime) -> str:
    """RFC 3339 in UTC with `Z`, whatever offset the moment came in."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# answers write every timestamp as RFC 3339 UTC with `Z`
Utc = Annotated[
    datetime,
    PlainSerializer(iso_z, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]
_UNIT_MAX = {"score": 10.0}
_BOUNDED = ("_rate", "_share", "market_share", "portfolio_fit", "customer_retention")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _number_field(feature: registry.Feature) -> Any:
    upper = _UNIT_MAX.get(feature.unit, FEATURE_MAX)
    if feature.unit == "ratio" and feature.name.endswith(_BOUNDED):
        upper = 1.0
    unit = f" [{feature.unit}]" if feature.unit else ""
    return Annotated[
        float | None,
        Field(
            ge=0, le=upper, allow_inf_nan=False, strict=True, description=feature.description + unit
        ),
    ]


def _category_field(feature: registry.Feature) -> Any:
    column = next(
        (t.column(feature.name) for t in SCHEMAS.values() if feature.name in t.column_names),
        None,
    )
    allowed = column.allowed if column is not None else None
    kind: Any = Literal[allowed] if allowed else Annotated[str, Field(min_length=1, max_length=100)]
    return Annotated[kind | None, Field(description=feature.description)]


def _feature_field(feature: registry.Feature) -> Any:
    if feature.kind == "number":
        return _number_field(feature)
    if feature.kind == "boolean":
        return Annotated[StrictBool | None, Field(description=feature.description)]
    return _category_field(feature)


def _example_value(feature: registry.Feature) -> Any:
    if feature.kind == "boolean":
        return feature.name == "onboarded"
    if feature.kind == "category":
        return {"partner_type": "VAR", "region": "EMEA", "recruited_via": "event"}.get(
            feature.name, "other"
        )
    by_unit = {
        "count": 4.0,
        "USD": 42_000.0,
        "days": 30.0,
        "ratio": 0.6,
        "score": 8.0,
        "employees": 120.0,
    }
    if "trend" in feature.name:
        return 1.1
    return by_unit.get(feature.unit, 1.0)


EXAMPLE_FEATURES: dict[str, Any] = {f.name: _example_value(f) for f in registry.FEATURES.values()}

PartnerFeatures: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "PartnerFeatures",
    __config__=ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_FEATURES]}),
    __doc__="The registry features of one partner (null or left out = missing; see `warnings`).",
    **{f.name: (_feature_field(f), None) for f in registry.FEATURES.values()},
)


# --- requests ----------------------------------------------------------------------------


class TierStateIn(Strict):
    """The partner's tier state after its previous evaluation (the rules' grace/override)."""

    tier: Id
    missed_evaluations: int = Field(0, ge=0, le=1000)
    override_tier: Id | None = None
    override_reason: str | None = Field(None, max_length=500)
    override_until: Moment | None = None


class ActionHistoryIn(Strict):
    """When an action was last done or dismissed for this partner (contact policy)."""

    action_id: Id
    last_done_or_dismissed_at: Moment


EXAMPLE_SCORE_REQUEST: dict[str, Any] = {
    "partner_id": "P000123",
    "as_of": "2026-11-23T00:00:00Z",
    "features": EXAMPLE_FEATURES,
    "previous": {"tier": "Silver", "missed_evaluations": 0},
    "history": [
        {"action_id": "scheduled_checkin", "last_done_or_dismissed_at": "2026-11-09T10:00:00Z"}
    ],
}


class ScoreRequest(Strict):
    """One partner as a PRM system sends it: id, features as of a time, optional state."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [EXAMPLE_SCORE_REQUEST]}
    )

    partner_id: Id
    as_of: Moment = Field(
        description="When the features were computed: ISO 8601 with a UTC offset, 1900–2199"
    )
    manager_id: Id | None = None
    features: PartnerFeatures
    previous: TierStateIn | None = Field(None, description="Tier state after the last evaluation")
    history: list[ActionHistoryIn] = Field(default_factory=list, max_length=200)


class BatchScoreRequest(Strict):
    """Several partners in one call (at most `max_batch`, a setting)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"partners": [EXAMPLE_SCORE_REQUEST]}]}
    )

    partners: list[ScoreRequest] = Field(
        min_length=1, description="1 to `max_batch` (setting, default 500) score requests"
    )


EXAMPLE_DEAL: dict[str, Any] = {
    "amount": 48_000.0,
    "product": "core",
    "deal_kind": "new",
    "customer_has_open_direct_deal": False,
    "customer_is_existing": False,
    "customer_open_partner_deals": 0.0,
    "partner_customer_deals": 1.0,
    "partner_deals_in_flight": 3.0,
}

DealAttributes: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "DealAttributes",
    __config__=ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_DEAL]}),
    __doc__="The deal registration's own attributes (log_amount and amount_vs_partner_avg are "
    "derived by the service).",
    **{f.name: (_feature_field(f), ...) for f in DEAL_INPUTS},
)


class DealScoreRequest(Strict):
    """A deal registration and its partner: by id (stored features) or with inline features."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "deal_id": "D0001234",
                    "customer_id": "C004711",
                    "currency": "USD",
                    "partner_id": "P000123",
                    "deal": EXAMPLE_DEAL,
                },
                {
                    "deal_id": "D0001235",
                    "partner_features": EXAMPLE_FEATURES,
                    "as_of": "2026-11-23T00:00:00Z",
                    "deal": EXAMPLE_DEAL,
                },
            ],
            # exactly one partner source (what `_one_partner_source` checks); if/then/else
            # rather than oneOf, which client generators turn into duplicate models
            "if": {"properties": {"partner_id": {"type": "null"}}},
            "then": {
                "required": ["partner_features", "as_of"],
                "properties": {"partner_features": {"type": "object"}, "as_of": {"type": "string"}},
            },
            "else": {"properties": {"partner_features": {"type": "null"}}},
        },
    )

    deal_id: Id | None = None
    customer_id: Id | None = Field(None, description="The end customer (echoed; for your join)")
    currency: str = Field(
        "USD",
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217 code of `deal.amount` (the program's)",
        json_schema_extra={"enum": ["USD"]},  # others get a 422 that says so
    )
    partner_id: Id | None = None
    partner_features: PartnerFeatures | None = None
    as_of: Moment | None = Field(None, description="As-of of inline partner features")
    registered_at: Moment | None = Field(
        None,
        description="When the partner registered the deal (protection and expiry count from "
        "it); default: when it is scored",
    )
    deal: DealAttributes

    @model_validator(mode="after")
    def _one_partner_source(self) -> DealScoreRequest:
        if (self.partner_id is None) == (self.partner_features is None):
            raise ValueError("give exactly one of partner_id or partner_features")
        if self.partner_features is not None and self.as_of is None:
            raise ValueError("as_of is required with partner_features")
        return self


# --- responses ---------------------------------------------------------------------------


class ModelVersion(BaseModel):
    name: str
    alias: str
    version: str


class Versions(BaseModel):
    """What produced an answer, so it can be replayed: rulebook, models, features' as_of."""

    rulebook_version: str
    rulebook_hash: str
    models: list[ModelVersion]
    feature_registry: str
    as_of: Utc | None = None


class ConditionCheck(BaseModel):
    """One condition as evaluated: actual value vs threshold, and whether it held."""

    section: str
    rule_id: str
    condition: str
    feature: str
    op: str
    threshold: Any = None
    actual: Any = None
    outcome: Literal["pass", "fail", "missing"]


class GapItem(BaseModel):
    """One unmet requirement of the next tier and by how much (in the feature's unit)."""

    feature: str
    op: str
    threshold: Any = None
    actual: Any = None
    shortfall: float | None = None
    alternative: bool = False
    text: str


class TierOut(BaseModel):
    """The tier decided (policy applied), what the rules alone give, and the gap upwards."""

    track: str
    tier: str
    evaluated_tier: str
    change: str = Field(description="promoted | demoted | unchanged | new")
    basis: str = Field(description="rules | grace | override | calendar (held until a review)")
    missed_evaluations: int = Field(description="Tier reviews in a row below the tier")
    override_tier: str | None = None
    override_reason: str | None = None
    override_until: Utc | None = None
    benefits: dict[str, Any] = Field(default_factory=dict)
    next_tier: str | None = None
    next_review: datetime | None = Field(None, description="When the tier is next reviewed")
    on_course_for: str | None = Field(
        None, description="The tier the partner would get at that review (rules alone, now)"
    )
    gap_to_next: list[GapItem] = Field(default_factory=list)
    checks: list[ConditionCheck] = Field(
        default_factory=list, description="Track and tier conditions (all with ?explain=true)"
    )


class IncentiveOut(BaseModel):
    incentive_id: str
    reward_type: str
    amount: float
    unit: str


class ScorecardOut(BaseModel):
    """The 6Cs, each 0–100, and their weighted overall score."""

    components: dict[str, float]
    overall: float | None = None


class ActionOut(BaseModel):
    """A recommended action: its rank, the numbers behind its priority, and why."""

    action_id: str
    title: str = Field("", description="What the manager reads (the rulebook's title)")
    sentence: str = Field("", description="Why, in a sentence (the rulebook's reason template)")
    description: str = ""
    rank: int
    priority: float = Field(description="propensity × value × weight")
    propensity: float
    propensity_source: str = Field(
        "",
        description="For a learned propensity (P(the action works)): `prior` (the rulebook's) "
        "or `learned (n=…)` (a draw from the posterior fitted on n reviewed decisions); empty "
        "when the propensity is a model output or none",
        max_length=64,
    )
    value: float = Field(description="Expected gain in the program's currency over its horizon")
    weight: float
    reasons: list[str] = Field(description="The codes: conditions that held, then the numbers")


class SuppressedAction(BaseModel):
    action_id: str
    reason: str


class ScoreWarning(BaseModel):
    """Something about the input that weakens the answer, and how."""

    code: Literal["features_missing", "no_features"]
    message: str
    features: list[str] = Field(default_factory=list, description="The features concerned")


class PartnerScore(BaseModel):
    """The answer for one partner: tier, incentives, 6Cs, churn risk and ranked actions."""

    partner_id: str
    churn_risk: float
    deal_acceptance: float | None = Field(
        description="null when no deal-acceptance model is registered (no rejections in its data)"
    )
    lifecycle_status: str | None = Field(
        None, description="new, active, lapsed or exited at the features' as_of"
    )
    tier: TierOut
    incentives: list[IncentiveOut]
    scorecard: ScorecardOut
    actions: list[ActionOut]
    suppressed: list[SuppressedAction] = Field(default_factory=list)
    versions: Versions
    warnings: list[ScoreWarning] = Field(
        default_factory=list, description="Features not sent and what that does to the answer"
    )


class DealReason(BaseModel):
    """A feature that moved the likelihood, by its contribution (log-odds, LightGBM SHAP)."""

    feature: str
    value: Any = None
    contribution: float
    direction: Literal["raises", "lowers"]


class EligibilityCheck(BaseModel):
    """One eligibility rule as applied: the field it read, its value, the threshold."""

    check: Literal["minimum_amount", "deal_kind", "channel_conflict"]
    passed: bool
    field: str
    value: Any = None
    threshold: Any = None


class EligibilityReason(EligibilityCheck):
    """Why a registration is refused: a stable code, a sentence, the value that decided it."""

    code: Literal[
        "below_minimum",
        "kind_not_eligible",
        "not_new_customer",
        "not_an_expansion",
        "channel_conflict",
        "missing_information",
    ]
    sentence: str


class Eligibility(BaseModel):
    """The rulebook's `registrations:` rules applied to this registration."""

    eligible: bool
    assessed: bool = Field(
        description="false when the rulebook has no `registrations:` rules (nothing checked)"
    )
    reasons: list[EligibilityReason] = Field(description="The refusals (empty when eligible)")
    checks: list[EligibilityCheck] = Field(description="Every rule applied, passed or not")
    protected_until: Utc | None = Field(
        None, description="Eligible: the partner is protected on this deal until then"
    )
    expires_at: Utc | None = Field(
        None, description="Eligible: without an outcome by then, the registration expires"
    )


class DealScore(BaseModel):
    """A deal registration's eligibility, acceptance likelihood, top reasons and routing
    band (an ineligible registration is still scored: its answer is 200, not an error)."""

    deal_id: str | None = None
    customer_id: str | None = None
    partner_id: str | None = None
    currency: str = "USD"
    acceptance_likelihood: float
    routing: Literal["fast_track", "review", "likely_reject"]
    bands: dict[str, float]
    reasons: list[DealReason]
    partner_exited: bool = Field(False, description="The partner has left the program")
    warnings: list[str] = Field(default_factory=list)
    registered_at: Utc | None = None
    eligibility: Eligibility | None = None
    stored: bool = Field(
        False, description="Kept in the service database (registrations with a deal_id)"
    )
    versions: Versions


class ItemProblem(BaseModel):
    """Why one item of a batch was not scored (problem+json fields)."""

    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] = Field(default_factory=list)


class BatchItem(BaseModel):
    """One item of a batch: its position, partner, status, and its score or its problem."""

    index: int
    partner_id: str | None = None
    status: int = Field(description="200 scored | 422 invalid item (see `problem`)")
    duplicate_of: int | None = Field(
        None, description="index of the first item with the same partner_id"
    )
    score: PartnerScore | None = None
    problem: ItemProblem | None = None


class BatchScoreResponse(BaseModel):
    """Per-item results in request order. Lean scores by default (no condition checks, no
    gap to the next tier); `?explain=true` adds them."""

    results: list[BatchItem]
    scored: int
    failed: int
    versions: Versions


class RuleSummary(BaseModel):
    id: str
    description: str


class RegistrationRulesOut(BaseModel):
    """The rulebook's deal-registration eligibility rules (`registrations:`)."""

    protection_days: int
    expiry_days: int
    minimum_amount: dict[str, float] = Field(description="product → minimum; `default`")
    deal_kinds: dict[str, str] = Field(description="new_customer | expansion | any | never")
    channel_conflict: bool
    sentences: dict[str, str] = Field(description="refusal code → sentence template")


class RulesOut(BaseModel):
    """The active rulebook: version, content hash and what it contains."""

    version: str
    content_hash: str
    features_needed: list[str]
    tracks: list[RuleSummary]
    incentives: list[RuleSummary]
    actions: list[RuleSummary]
    max_actions_per_partner: int
    deal_routing: dict[str, float]
    registrations: RegistrationRulesOut | None = Field(
        None, description="null: the rulebook has no deal-registration rules"
    )


class ModelOut(BaseModel):
    name: str
    alias: str
    version: str
    features: list[str]


class ModelsOut(BaseModel):
    models: list[ModelOut]
    tracking_uri: str | None = Field(
        None, description="Admins only; user name and password removed"
    )


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    ready: bool
    detail: str | None = None
    versions: dict[str, str] = Field(default_factory=dict)


class ReloadOut(BaseModel):
    reloaded: bool
    versions: dict[str, str]
