"""Interleaved timing rounds and whether their timings can be trusted.

Variants measured one after another in separate processes each meet
whatever load the machine had at their moment: a browser tab that wakes up
makes one variant look slow and the next fast. Here every variant stays
loaded in a warm process, and each **round** times them all once, one after
the other (A B C ... A B C ...), so load that comes and goes lands on all of
them alike. The speed-up of a variant is computed **round by round** (the
teacher's median in that round over the variant's), so both sides of each
ratio saw the same machine.

:func:`analyse_rounds` is pure (synthetic rounds in, verdict out; the tests
feed it a disturbed variant). It flags the timings **unreliable** when

* other programs used a real share of the CPU while measuring (system CPU
  time minus the benchmark's own; the load average is reported too),
* a variant's round medians spread more than ``max_spread``
  (interquartile range / median), or
* the rounds disagree on a speed-up by more than ``max_spread``,
* the CPU frequency governor changed during the run.

:func:`run_rounds` repeats rounds while the verdict is "unreliable", up to a
time budget; a result still unreliable then recommends no variant.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ..core.cpu import machine_state
from ..core.errors import Cancelled
from ..core.events import CancelToken
from ..core.results import Record

BUSY_SHARE = 0.25  # other programs' share of the CPU time above which the timings are not trusted
BUSY_LOAD = 0.75  # ... or, where the CPU time is unknown, the load average per core before the run


@dataclass
class VariantTiming(Record):
    """One variant's batch-1 latency over all rounds."""

    variant: str
    round_medians_ms: list[float] = field(default_factory=list)
    median_ms: float | None = None  # the median of the round medians
    p95_ms: float | None = None  # over every timed sample
    mean_ms: float | None = None
    samples: int = 0
    spread: float | None = None  # interquartile range of the round medians / their median


@dataclass
class PairedRatio(Record):
    """A variant's speed-up against a reference, one value per round (reference median / variant median)."""

    variant: str
    reference: str
    per_round: list[float] = field(default_factory=list)
    median: float | None = None
    low: float | None = None  # the smallest and largest round's ratio
    high: float | None = None
    spread: float | None = None  # interquartile range / median


@dataclass
class RoundsAnalysis(Record):
    rounds: int = 0
    seconds: float = 0.0
    timings: dict[str, VariantTiming] = field(default_factory=dict)
    ratios: dict[str, dict[str, PairedRatio]] = field(default_factory=dict)  # reference -> variant -> ratio
    machine_before: dict[str, Any] = field(default_factory=dict)
    machine_after: dict[str, Any] = field(default_factory=dict)
    other_cpu_share: float | None = None  # share of the CPU's time other programs used while measuring
    cores: int = 1
    max_spread: float = 0.15
    reliable: bool = True
    reasons: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        """"timings unreliable: ...; close other programs and run again", or ""."""
        if self.reliable:
            return ""
        return "timings unreliable: " + "; ".join(self.reasons) + "; close other programs and run again"


def _iqr_ratio(values: Sequence[float]) -> float | None:
    a = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if len(a) < 2:
        return 0.0 if len(a) == 1 else None
    med = float(np.median(a))
    if med <= 0:
        return None
    q75, q25 = np.percentile(a, [75, 25])
    return float((q75 - q25) / med)


def analyse_rounds(samples: dict[str, list[list[float]]], *, references: Sequence[str] = (), max_spread: float = 0.15,
                   machine_before: dict[str, Any] | None = None, machine_after: dict[str, Any] | None = None,
                   own_cpu_seconds: float | None = None, wall_seconds: float = 0.0, cores: int = 1) -> RoundsAnalysis:
    """Medians, paired ratios and the verdict from ``samples[variant][round] = [ms, ms, ...]``.

    Rounds are paired by position: round ``r`` of every variant ran in the
    same pass. Variants with fewer rounds (one that failed midway) are paired
    on the rounds they have.
    """
    before, after = machine_before or {}, machine_after or {}
    res = RoundsAnalysis(rounds=max((len(r) for r in samples.values()), default=0), seconds=wall_seconds,
                         machine_before=before, machine_after=after, cores=cores, max_spread=max_spread)
    medians: dict[str, list[float]] = {}
    for name, rounds in samples.items():
        meds = [float(np.median(r)) for r in rounds if len(r)]
        medians[name] = meds
        every = np.concatenate([np.asarray(r, dtype=float) for r in rounds if len(r)]) if meds else np.empty(0)
        res.timings[name] = VariantTiming(
            variant=name, round_medians_ms=meds, median_ms=float(np.median(meds)) if meds else None,
            p95_ms=float(np.percentile(every, 95)) if every.size else None, mean_ms=float(every.mean()) if every.size else None,
            samples=int(every.size), spread=_iqr_ratio(meds))
    for ref in references:
        if not medians.get(ref):
            continue
        out = {}
        for name, meds in medians.items():
            pairs = [r / v for r, v in zip(medians[ref], meds) if v > 0]
            out[name] = PairedRatio(variant=name, reference=ref, per_round=pairs,
                                    median=float(np.median(pairs)) if pairs else None,
                                    low=float(min(pairs)) if pairs else None, high=float(max(pairs)) if pairs else None,
                                    spread=_iqr_ratio(pairs))
        res.ratios[ref] = out
    _verdict(res, own_cpu_seconds)
    return res


def _verdict(res: RoundsAnalysis, own_cpu_seconds: float | None) -> None:
    before, after, cores = res.machine_before, res.machine_after, max(res.cores, 1)
    loads = [x for x in (before.get("load_1min"), after.get("load_1min")) if isinstance(x, (int, float))]
    load = max(loads) if loads else None
    if own_cpu_seconds is not None and res.seconds > 0 and "cpu_busy_seconds" in before and "cpu_busy_seconds" in after:
        other = after["cpu_busy_seconds"] - before["cpu_busy_seconds"] - own_cpu_seconds
        res.other_cpu_share = round(min(max(other / (res.seconds * cores), 0.0), 1.0), 3)
    busy = (res.other_cpu_share > BUSY_SHARE if res.other_cpu_share is not None
            else isinstance(before.get("load_1min"), (int, float)) and before["load_1min"] > BUSY_LOAD * cores)
    if busy:
        what = f"load {load:.1f} on {cores} cores" if load is not None else f"{cores} cores"
        share = f", other programs used {res.other_cpu_share:.0%} of it" if res.other_cpu_share is not None else ""
        res.reasons.append(f"the CPU was busy ({what}{share})")
    if res.rounds >= 3:
        unsteady = {n: t.spread for n, t in res.timings.items() if t.spread is not None and t.spread > res.max_spread}
        if len(unsteady) > 2:
            res.reasons.append(f"the rounds of {len(unsteady)} variants vary by up to {max(unsteady.values()):.0%} "
                               f"(steady: under {res.max_spread:.0%})")
        else:
            res.reasons += [f"{n}'s rounds vary by {v:.0%} (steady: under {res.max_spread:.0%})" for n, v in unsteady.items()]
        ref = next(iter(res.ratios), None)  # the speed-ups a user reads: against the first reference (the teacher)
        disagree = {n: r for n, r in (res.ratios.get(ref) or {}).items()
                    if n != ref and n not in unsteady and r.spread is not None and r.spread > res.max_spread}
        if len(disagree) > 2:
            res.reasons.append(f"the rounds disagree on the speed-ups of {len(disagree)} variants against {ref}")
        else:
            res.reasons += [f"the rounds disagree on {n}'s speed-up against {ref} ({r.low:.1f}x to {r.high:.1f}x)"
                            for n, r in disagree.items()]
    g0, g1 = before.get("governors"), after.get("governors")
    if g0 and g1 and g0 != g1:
        res.reasons.append(f"the CPU frequency governor changed ({', '.join(g0)} to {', '.join(g1)})")
    res.reliable = not res.reasons


# ------------------------------------------------------------------ running rounds
def run_rounds(workers: dict[str, Any], *, min_rounds: int, time_budget_s: float, analyse: Callable[..., RoundsAnalysis],
               cancel: CancelToken, on_round: Callable[[int, str, float | None], None] | None = None,
               on_failed: Callable[[str, Exception], None] | None = None,
               own_cpu: Callable[[], float] | None = None) -> RoundsAnalysis:
    """Time every worker once per round, in turn, for ``min_rounds`` rounds and, while the verdict is
    unreliable, more rounds until ``time_budget_s`` more seconds have passed.

    ``workers``: name -> an object with ``latency_round() -> list[ms]``. ``analyse(samples, machine_before=,
    machine_after=, own_cpu_seconds=, wall_seconds=)`` gives the verdict. ``on_round(round, variant, eta)``
    reports progress; a worker that raises is dropped (``on_failed``), the others go on.
    """
    samples: dict[str, list[list[float]]] = {n: [] for n in workers}
    active = dict(workers)
    before = machine_state()
    own0 = own_cpu() if own_cpu else None
    t0 = time.monotonic()
    deadline = None
    r = 0
    while active:
        r += 1
        round_start = time.monotonic()
        for name, w in list(active.items()):
            if cancel.cancelled:
                raise Cancelled()
            if on_round is not None:
                per_round = (round_start - t0) / (r - 1) if r > 1 else None
                left = max(min_rounds - r + 1, 1) * per_round if per_round else None
                on_round(r, name, left)
            try:
                samples[name].append(w.latency_round())
            except Cancelled:
                raise
            except Exception as exc:  # noqa: BLE001  one broken variant must not lose the others
                active.pop(name)
                if on_failed is not None:
                    on_failed(name, exc)
        if r < min_rounds:
            continue
        result = analyse(samples, machine_before=before, machine_after=machine_state(),
                         own_cpu_seconds=(own_cpu() - own0) if own_cpu else None, wall_seconds=time.monotonic() - t0)
        if result.reliable:
            return result
        if deadline is None:
            deadline = time.monotonic() + time_budget_s
        per_round = (time.monotonic() - t0) / r
        if time.monotonic() + per_round > deadline:
            return result
    return analyse(samples, machine_before=before, machine_after=machine_state(),
                   own_cpu_seconds=(own_cpu() - own0) if own_cpu else None, wall_seconds=time.monotonic() - t0)
