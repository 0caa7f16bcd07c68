"""Binned drift statistics against scipy and numpy computed on the raw values."""

import numpy as np
import pytest
from scipy import stats

from churnops.monitoring.refresh import statistics as st


def _binned(spec, x):
    return np.bincount(spec.index(x), minlength=spec.bins).astype(float)


@pytest.mark.parametrize(
    "make",
    [
        lambda r: (r.normal(size=20_000), r.normal(0.1, 1.1, size=5_000)),
        lambda r: (r.lognormal(size=20_000), r.lognormal(0.3, size=5_000)),  # heavy tail
        lambda r: (r.poisson(3, 20_000).astype(float), r.poisson(3.4, 5_000).astype(float)),
    ],
)
def test_ks_from_fine_bins_is_within_0005_of_ks_2samp(make):
    a, b = make(np.random.default_rng(3))
    both = np.concatenate([a, b])
    spec = st.BinSpec.from_stats(both.min(), both.max(), a.mean(), a.std(), 2000)
    d, p = st.ks_test(_binned(spec, b), _binned(spec, a))
    ref = stats.ks_2samp(b, a, method="asymp")
    assert abs(d - ref.statistic) <= 0.005
    assert p == pytest.approx(stats.kstwo.sf(d, round(len(a) * len(b) / (len(a) + len(b)))))


def test_psi_equals_numpy_on_the_same_bins():
    rng = np.random.default_rng(0)
    base, cur = rng.normal(size=50_000), rng.normal(0.3, 1.2, size=8_000)
    both = np.concatenate([base, cur])
    spec = st.BinSpec.from_stats(both.min(), both.max(), base.mean(), base.std(), 2000)
    fine_base, fine_cur = _binned(spec, base), _binned(spec, cur)
    cuts = st.psi_edges(fine_base, 10)
    ours = st.population_stability_index(st.coarsen(fine_base, cuts), st.coarsen(fine_cur, cuts))
    edges = spec.edges()[cuts]
    e = np.histogram(base, edges)[0] / len(base)
    a = np.histogram(cur, edges)[0] / len(cur)
    e, a = np.maximum(e, st.EPS), np.maximum(a, st.EPS)
    assert ours == pytest.approx(np.sum((a - e) * np.log(a / e)), rel=1e-9)
    assert len(cuts) == 11  # deciles of the baseline
    assert np.allclose(np.histogram(base, edges)[0] / len(base), 0.1, atol=0.002)


def test_wasserstein_close_to_scipy_on_raw_values():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=20_000), rng.normal(0.5, 1, size=20_000)
    both = np.concatenate([a, b])
    spec = st.BinSpec.from_stats(both.min(), both.max(), 0, 1, 2000)
    ours = st.wasserstein(_binned(spec, a), _binned(spec, b), spec.edges())
    assert ours == pytest.approx(stats.wasserstein_distance(a, b), abs=0.005)


def test_compare_counts_matches_scipy():
    a, b = np.array([50.0, 30, 20]), np.array([30.0, 30, 40])
    out = st.compare_counts(a, b)
    chi = stats.chi2_contingency(np.vstack([a, b]), correction=False)
    assert out["chi_squared_test"]["statistic"] == pytest.approx(chi.statistic)
    assert out["chi_squared_test"]["pvalue"] == pytest.approx(chi.pvalue)
    assert out["tv_distance"] == pytest.approx(0.2)
    assert out["l_infinity_distance"] == pytest.approx(0.2)
    p, q = a / a.sum(), b / b.sum()
    m = (p + q) / 2
    js = np.sqrt(0.5 * np.sum(p * np.log2(p / m)) + 0.5 * np.sum(q * np.log2(q / m)))
    assert out["js_distance"] == pytest.approx(js)


def test_integral_bins_make_ks_exact_against_a_whole_number_reference():
    # The reference holds counts; the current window is shifted by a non-integer amount, so
    # its values sit just below the reference's integers (one coarse bin used to hold both).
    rng = np.random.default_rng(4)
    base = rng.poisson(4, 50_000).astype(float)
    cur = rng.poisson(4, 8_000) + 0.9998 * 2.0
    both = np.concatenate([base, cur])
    spec = st.BinSpec.from_stats(both.min(), both.max(), base.mean(), base.std(), 2000, True)
    assert spec.integral and spec.bins == 2 * (np.ceil(both.max()) - both.min()) + 1
    d, _ = st.ks_test(_binned(spec, cur), _binned(spec, base))
    assert d == pytest.approx(stats.ks_2samp(cur, base).statistic, abs=1e-12)
    same, _ = st.ks_test(_binned(spec, base[:9000]), _binned(spec, base[9000:]))
    assert same == pytest.approx(stats.ks_2samp(base[:9000], base[9000:]).statistic, abs=1e-12)
    # Wasserstein puts each integer's mass on the integer itself: exact for whole numbers.
    w = st.wasserstein(_binned(spec, base[:9000]), _binned(spec, base[9000:]), spec.edges())
    assert w == pytest.approx(stats.wasserstein_distance(base[:9000], base[9000:]), abs=1e-9)


def test_integral_bins_need_a_short_range_else_asinh_bins():
    assert not st.BinSpec.from_stats(0, 5000, 10, 50, 2000, integral=True).integral
    assert not st.BinSpec.from_stats(0, 5, 2, 1, 2000, integral=False).integral


@pytest.mark.parametrize("integral", [False, True])
def test_quantiles_read_off_fine_bins_match_numpy(integral):
    rng = np.random.default_rng(5)
    x = rng.poisson(6, 30_000).astype(float) if integral else rng.lognormal(size=30_000)
    spec = st.BinSpec.from_stats(x.min(), x.max(), x.mean(), x.std(), 2000, integral)
    qs = [0.05, 0.25, 0.5, 0.75, 0.95]
    ours = spec.quantiles(_binned(spec, x), qs, x.min(), x.max())
    if integral:  # one bin per integer: the exact inverse of the empirical CDF
        assert ours == list(np.quantile(x, qs, method="inverted_cdf"))
    else:  # within the fine bin that holds the quantile
        widths = np.diff(spec.edges())[spec.index(np.quantile(x, qs))]
        assert np.all(np.abs(np.array(ours) - np.quantile(x, qs)) <= widths)
    assert spec.quantiles(np.zeros(spec.bins), qs, 0.0, 1.0) is None
