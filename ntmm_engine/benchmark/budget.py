"""Choosing a variant under the user's budget, and the speed/accuracy frontier.

``benchmark.budget_*`` sets up to four limits (0 = none): median latency at
batch 1, test macro-F1, size, peak memory. :func:`recommend` picks the most
accurate variant within all of them (the faster one on a tie), or, when none
qualifies, the fastest one, and says why in words. It recommends nothing
from timings flagged unreliable (:mod:`.rounds`).

:func:`pareto_front` gives the variants no other beats on both latency and
macro-F1: the chart's frontier line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from ..core.results import Record


@dataclass
class Budget(Record):
    max_latency_ms: float = 0.0
    min_macro_f1: float = 0.0
    max_size_mb: float = 0.0
    max_peak_ram_mb: float = 0.0

    @classmethod
    def from_config(cls, b: Any) -> "Budget":
        return cls(max_latency_ms=b.budget_max_latency_ms, min_macro_f1=b.budget_min_macro_f1,
                   max_size_mb=b.budget_max_size_mb, max_peak_ram_mb=b.budget_max_peak_ram_mb)

    def limits(self) -> list[tuple[str, str, float]]:
        """(row attribute, words, limit) of the limits that are set."""
        out = []
        if self.max_latency_ms > 0:
            out.append(("latency_ms_median", f"latency ≤ {self.max_latency_ms:g} ms", self.max_latency_ms))
        if self.min_macro_f1 > 0:
            out.append(("macro_f1", f"macro-F1 ≥ {self.min_macro_f1:g}", self.min_macro_f1))
        if self.max_size_mb > 0:
            out.append(("size_mb", f"size ≤ {self.max_size_mb:g} MB", self.max_size_mb))
        if self.max_peak_ram_mb > 0:
            out.append(("peak_ram_mb", f"peak RAM ≤ {self.max_peak_ram_mb:g} MB", self.max_peak_ram_mb))
        return out

    def text(self) -> str:
        return ", ".join(words for _a, words, _v in self.limits()) or "no limits"


@dataclass
class Recommendation(Record):
    variant: str = ""  # "" = none (unreliable timings, or nothing measured)
    within_budget: bool = False
    reason: str = ""
    qualifying: list[str] = field(default_factory=list)
    budget: Budget = field(default_factory=Budget)


def _figure(row: Any, attr: str) -> float | None:
    if attr == "size_mb":
        v = getattr(row, "size_bytes", None)
        return v / 1e6 if isinstance(v, (int, float)) else None
    if attr == "peak_ram_mb":
        v = getattr(row, "peak_rss_bytes", None)
        return v / 1e6 if isinstance(v, (int, float)) else None
    v = getattr(row, attr, None)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def misses(row: Any, budget: Budget) -> list[str]:
    """The limits ``row`` does not meet, in words (an unmeasured figure misses its limit)."""
    out = []
    for attr, words, limit in budget.limits():
        v = _figure(row, attr)
        lower_is_better = attr != "macro_f1"
        if v is None or (v > limit if lower_is_better else v < limit):
            out.append(words + (" (not measured)" if v is None else ""))
    return out


def _describe(row: Any) -> str:
    parts = [f"macro-F1 {row.macro_f1:.3f}", f"{row.latency_ms_median:.2f} ms"]
    size = _figure(row, "size_mb")
    if size is not None:
        parts.append(f"{size:.1f} MB")
    return ", ".join(parts)


def recommend(rows: Sequence[Any], budget: Budget, *, unreliable: str = "") -> Recommendation:
    """The most accurate variant within ``budget``, else the fastest, with the reason in words.

    ``rows``: benchmark rows (``variant``, ``status``, ``macro_f1``,
    ``latency_ms_median``, ``size_bytes``, ``peak_rss_bytes``).
    ``unreliable``: the timings' flag; when set, nothing is recommended.
    """
    if unreliable:
        return Recommendation(reason="No recommendation: the timings are unreliable (see the warning).", budget=budget)
    timed = [r for r in rows if getattr(r, "status", "ok") == "ok" and _figure(r, "latency_ms_median") is not None
             and _figure(r, "macro_f1") is not None]
    if not timed:
        return Recommendation(reason="No recommendation: no variant has both a latency and a macro-F1.", budget=budget)
    ok = [r for r in timed if not misses(r, budget)]
    limits = budget.text()
    if ok:
        best = max(ok, key=lambda r: (round(r.macro_f1, 9), -r.latency_ms_median))
        others = f"the most accurate of the {len(ok)} variants within" if len(ok) > 1 else "the only variant within"
        return Recommendation(variant=best.variant, within_budget=True, qualifying=[r.variant for r in ok], budget=budget,
                              reason=f"{best.variant}: {others} the budget ({limits}): {_describe(best)}.")
    fastest = min(timed, key=lambda r: (r.latency_ms_median, -r.macro_f1))
    return Recommendation(variant=fastest.variant, within_budget=False, budget=budget,
                          reason=f"No variant meets the budget ({limits}); {fastest.variant} is the fastest "
                                 f"({_describe(fastest)}) and misses {', '.join(misses(fastest, budget))}.")


def pareto_front(points: Sequence[tuple[str, float, float]]) -> list[str]:
    """Names of the points (name, latency, macro-F1) that no other point beats on both, fastest first."""
    front, best_f1 = [], float("-inf")
    for name, _lat, f1 in sorted(points, key=lambda p: (p[1], -p[2])):
        if f1 > best_f1:
            front.append(name)
            best_f1 = f1
    return front
