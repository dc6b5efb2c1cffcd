"""Benchmark the weekly plan against an oracle: true value captured per manager slot.

    .venv/bin/python bench/bench_plan.py                       # 3,000 partners, 12 weeks
    .venv/bin/python bench/bench_plan.py --partners 1000 --weeks 12 --seeds 3
    .venv/bin/python bench/bench_plan.py --rules my-rules --model-noise 0.3

A program is simulated (`simulation.program`), its feature frame built at the last Monday,
and a `simulation.interventions.World` made from it: every partner × action has a true,
heterogeneous effect. Each planner then plans N weeks with simulated managers in the loop
(`simulation.plan_loop`): the default rulebook's ranking, an oracle that knows the true
effects, churn-risk-only ranking and random — same candidates, same capacity and spreading
(one slot per partner by default), same managers; and the learned-propensity planner, which
fits P(the action works) per action × lifecycle status each week on the decisions and
responses of the weeks before (`simulation.learned_planner`) and ranks by Thompson draws
(`--no-learned` leaves it out), against the prior-only planner (the rulebook's). Prints
the true value captured (expected dollars over a year of the actions managers did) per
manager slot, the share of the oracle's, the ratio to churn-only, and the targets (>= 80% of
oracle, >= 1.5x churn-only).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

END = datetime(2026, 11, 30, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=3000)
    parser.add_argument("--years", type=float, default=2.0)
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--capacity", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=1, help="programs simulated (7, 8, ...)")
    parser.add_argument("--model-noise", type=float, default=0.6, help="logit noise of churn_risk")
    parser.add_argument("--rules", default=None, help="rulebook directory (default: the active)")
    parser.add_argument(
        "--no-learned", action="store_true", help="leave out the learned-propensity planner"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from features.snapshot import build_features
    from rules import load_rulebook
    from simulation.interventions import build_world
    from simulation.plan_loop import planners, run_plans
    from simulation.program import simulate

    rulebook = load_rulebook(args.rules)
    per_slot: dict[str, list[float]] = {}
    started = time.perf_counter()
    for seed in range(7, 7 + args.seeds):
        sim = simulate(partners=args.partners, years=args.years, seed=seed, end=END)
        as_of = END - timedelta(days=END.weekday() + 7 * (args.weeks + 1))
        frame = build_features(sim.tables, as_of=as_of)
        world = build_world(
            frame,
            sim.truth.churn_probability(as_of, 90),
            sim.truth.state(as_of),
            seed=seed,
        )
        results = run_plans(
            world,
            rulebook,
            as_of=as_of,
            weeks=args.weeks,
            capacity=args.capacity,
            model_noise=args.model_noise,
            seed=seed,
            planners=planners(rulebook, learned=not args.no_learned, seed=seed),
        )
        print(
            f"\nseed {seed}: {len(world.frame):,} partners in the program, "
            f"{world.frame['manager_id'].nunique()} managers x {args.capacity} slots x "
            f"{args.weeks} weeks from {as_of:%Y-%m-%d}"
        )
        print(f"{'planner':<11} {'$/slot':>9} {'done':>6} {'value $':>13}  done by action")
        for r in results:
            per_slot.setdefault(r.planner, []).append(r.value_per_slot)
            mix = ", ".join(f"{a} {n}" for a, n in sorted(r.by_action.items(), key=lambda x: -x[1]))
            print(f"{r.planner:<11} {r.value_per_slot:>9,.0f} {r.done:>6} {r.value:>13,.0f}  {mix}")

    mean = {k: statistics.fmean(v) for k, v in per_slot.items()}
    print(
        f"\nmean over {args.seeds} program(s), {time.perf_counter() - started:.0f} s, "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; churn_risk is a "
        f"stand-in (the true P(churn) with logit noise {args.model_noise}), not a champion:"
    )
    for name, v in mean.items():
        print(f"  {name:<11} ${v:,.0f} per manager slot")
    for name in ("learned", "rulebook"):
        if name in mean:
            print(_versus(name, mean))
    if "learned" in mean and mean["rulebook"]:
        ratios = [a / b for a, b in zip(per_slot["learned"], per_slot["rulebook"], strict=True)]
        print(
            f"learned vs prior-only (rulebook): {mean['learned'] / mean['rulebook']:.3f}x of the "
            f"means, median per seed {statistics.median(ratios):.3f}x "
            f"(per seed: {', '.join(f'{r:.3f}' for r in ratios)})"
        )
    print("reproduce: .venv/bin/python " + " ".join(sys.argv))


def _versus(name: str, mean: dict[str, float]) -> str:
    nan = float("nan")
    of_oracle = mean[name] / mean["oracle"] if mean["oracle"] else nan
    vs_churn = mean[name] / mean["churn_only"] if mean["churn_only"] else nan
    vs_random = mean[name] / mean["random"] if mean["random"] else nan
    return (
        f"{name}: {of_oracle:.1%} of the oracle (target >= 80%) "
        f"{'ok' if of_oracle >= 0.8 else 'MISSED'}; "
        f"{vs_churn:.2f}x churn-only (target >= 1.5x) {'ok' if vs_churn >= 1.5 else 'MISSED'}; "
        f"{vs_random:.2f}x random"
    )


if __name__ == "__main__":
    main()
