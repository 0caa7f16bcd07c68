"""Drift statistics on small aggregates: binned counts in, KS / Wasserstein / PSI / chi2 / JS out.

The engine only counts rows per fine bin; everything here works on those counts, so a refresh
never collects raw rows. KS is exact up to one fine bin's mass (the supremum is evaluated at
bin edges), and exact against an integer-valued reference (see `BinSpec.integral`); PSI uses
coarse bins cut at the baseline's quantiles; profile quantiles are read off the same bins.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.spatial import distance

EPS = 1e-4  # PSI's usual floor for an empty bin's share (keeps the log finite)


@dataclass(frozen=True)
class BinSpec:
    """Fine bins for one numeric column: t = asinh((x - center) / scale), equal width in t.

    asinh is linear near the centre and logarithmic in the tails, so heavy-tailed features
    (spend, counts) still get fine bins where their mass is. KS is invariant under a monotone
    map, so binning in t loses nothing but the within-bin resolution.

    An `integral` spec (a reference of whole numbers over a short range) has one bin per
    integer v in [lo, hi] and one for the open gap (v, v + 1) after it: bin = ceil(x) + floor(x)
    - 2 lo. A reference CDF is flat inside each gap, so the KS supremum against it falls on
    these bins' ends and is exact; two integers never share a bin.
    """

    center: float
    scale: float
    lo: float  # t of the smallest value seen when the spec was made (integral: that value)
    hi: float
    bins: int
    integral: bool = False

    def to_t(self, x: np.ndarray) -> np.ndarray:
        return np.arcsinh((np.asarray(x, dtype=float) - self.center) / self.scale)

    def index(self, x: np.ndarray) -> np.ndarray:
        """Bin index of each value (what the engine computes), clipped into [0, bins)."""
        if self.integral:
            x = np.asarray(x, dtype=float)
            raw = np.ceil(x) + np.floor(x) - 2 * self.lo
        else:
            raw = np.floor((self.to_t(x) - self.lo) / self.width())
        return np.clip(raw, 0, self.bins - 1).astype(np.int64)

    def width(self) -> float:
        return (self.hi - self.lo) / self.bins if self.hi > self.lo else 1.0

    def edges(self) -> np.ndarray:
        """The bins' edges in the column's own units (bins + 1 values).

        Integral: [v - a, v + a) around each integer v and [v + a, v + 1 - a) for its gap, with
        a tiny, so bin centres are v and v + 1/2 and `np.histogram` bins whole numbers as here.
        """
        if self.integral:
            values = self.lo + np.arange((self.bins + 1) // 2)
            a = 1e-9 * max(1.0, abs(self.lo), abs(self.hi))
            return np.column_stack([values - a, values + a]).ravel()
        t = self.lo + self.width() * np.arange(self.bins + 1)
        return self.center + self.scale * np.sinh(t)

    def to_dict(self) -> dict[str, float]:
        return {
            "center": self.center,
            "scale": self.scale,
            "lo": self.lo,
            "hi": self.hi,
            "bins": self.bins,
            "integral": self.integral,
        }

    @classmethod
    def from_stats(
        cls,
        lo: float,
        hi: float,
        center: float,
        spread: float,
        bins: int,
        integral: bool = False,
    ) -> BinSpec:
        """A spec covering [lo, hi], centred on `center`, scaled by `spread` (a stddev).

        `integral`: the reference holds whole numbers only; they get exact bins when the
        range needs no more than `bins` of them (two per integer), else asinh bins as usual.
        """
        if integral and 2 * (math.ceil(hi) - math.floor(lo)) + 1 <= bins:
            first, last = math.floor(lo), math.ceil(hi)
            return cls(center, 1.0, float(first), float(last), 2 * (last - first) + 1, True)
        scale = spread if spread and spread > 0 else (hi - lo) / 4 or 1.0
        spec = cls(center, scale, 0.0, 0.0, bins)
        t_lo, t_hi = (float(v) for v in spec.to_t(np.array([lo, hi])))
        return cls(center, scale, t_lo, t_hi + 1e-9 * max(1.0, abs(t_hi)), bins)

    def quantiles(
        self, counts: np.ndarray, qs: list[float], low: float, high: float
    ) -> list[float] | None:
        """Quantiles of the binned values, interpolated inside the bin that holds each one and
        kept within the exact [low, high] (the group's min and max); None for an empty group."""
        total = counts.sum()
        if total <= 0:
            return None
        cum = np.cumsum(counts)
        edges = self.edges()
        out = []
        for q in qs:
            rank = q * total
            i = min(int(np.searchsorted(cum, rank, side="left")), self.bins - 1)
            while counts[i] == 0 and i + 1 < self.bins:
                i += 1  # rank 0 lands before the first occupied bin
            before = cum[i] - counts[i]
            share = (rank - before) / counts[i] if counts[i] else 0.0
            if self.integral and i % 2 == 0:
                value = self.lo + i // 2  # one whole number: exact
            else:
                value = edges[i] + min(max(share, 0.0), 1.0) * (edges[i + 1] - edges[i])
            out.append(float(min(max(value, low), high)))
        return out


def ks_test(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sample KS statistic and asymptotic p-value from binned counts (as `ks_2samp`)."""
    n1, n2 = a.sum(), b.sum()
    if n1 == 0 or n2 == 0:
        return math.nan, math.nan
    d = float(np.max(np.abs(np.cumsum(a) / n1 - np.cumsum(b) / n2)))
    en = n1 * n2 / (n1 + n2)
    return d, _ks_pvalue(d, round(en)) if en >= 1 else math.nan


@functools.lru_cache(maxsize=4096)
def _ks_pvalue(d: float, n: int) -> float:
    # kstwo.sf takes up to 0.3 s at n ~ 1e5; a version's and the all-versions row often share
    # one histogram (one version per window), so the same (d, n) recurs.
    return float(stats.kstwo.sf(d, n))


def wasserstein(a: np.ndarray, b: np.ndarray, edges: np.ndarray) -> float:
    """W1 between the two histograms with each bin's mass at its centre (in column units)."""
    if a.sum() == 0 or b.sum() == 0:
        return math.nan
    centres = (edges[:-1] + edges[1:]) / 2
    diff = np.abs(np.cumsum(a) / a.sum() - np.cumsum(b) / b.sum())[:-1]
    return float(np.sum(diff * np.diff(centres)))


def psi_edges(baseline: np.ndarray, n: int) -> np.ndarray:
    """Fine-bin cut points that split the baseline into `n` near-equal parts (deciles).

    Returns indices into the fine bins: coarse bin k holds fine bins [cut[k], cut[k+1]).
    """
    cdf = np.cumsum(baseline) / max(baseline.sum(), 1)
    inner = np.searchsorted(cdf, np.arange(1, n) / n, side="left") + 1
    return np.unique(np.concatenate([[0], inner, [len(baseline)]]))


def coarsen(fine: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Sum fine-bin counts into the coarse bins `cuts` describe."""
    return np.add.reduceat(fine, cuts[:-1]) if len(cuts) > 1 else fine.sum(keepdims=True)


def population_stability_index(expected: np.ndarray, actual: np.ndarray) -> float:
    """PSI = sum (a - e) * ln(a / e) over bin shares, empty shares floored at EPS."""
    if expected.sum() == 0 or actual.sum() == 0:
        return math.nan
    e = np.maximum(expected / expected.sum(), EPS)
    a = np.maximum(actual / actual.sum(), EPS)
    return float(np.sum((a - e) * np.log(a / e)))


def compare_counts(a: np.ndarray, b: np.ndarray) -> dict[str, object]:
    """Two aligned count vectors compared: chi2 test of homogeneity, JS distance (base 2), TV and
    L-infinity distances."""
    if a.sum() == 0 or b.sum() == 0:
        nan = math.nan
        return {
            "chi_squared_test": {"statistic": nan, "pvalue": nan},
            "js_distance": nan,
            "tv_distance": nan,
            "l_infinity_distance": nan,
        }
    p, q = a / a.sum(), b / b.sum()
    keep = (a + b) > 0
    table = np.vstack([a[keep], b[keep]])
    if table.shape[1] < 2:
        chi = {"statistic": 0.0, "pvalue": 1.0}  # one category on both sides: no difference
    else:
        res = stats.chi2_contingency(table, correction=False)
        chi = {"statistic": float(res.statistic), "pvalue": float(res.pvalue)}
    return {
        "chi_squared_test": chi,
        "js_distance": float(distance.jensenshannon(p, q, base=2)),
        "tv_distance": float(0.5 * np.abs(p - q).sum()),
        "l_infinity_distance": float(np.abs(p - q).max()),
    }
