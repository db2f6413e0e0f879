"""Linear mixed models with two crossed random intercepts, fitted by REML.

The model is ``y = X β + u_a[a] + u_b[b] + ε`` with ``u_a ~ N(0, σ_a²)`` per level of
factor ``a`` (e.g. the text), ``u_b ~ N(0, σ_b²)`` per level of ``b`` (e.g. the reader)
and ``ε ~ N(0, σ²)``: lme4's ``y ~ x + (1 | a) + (1 | b)``. statsmodels fits crossed
intercepts only through one all-encompassing group with dense design matrices (over a
minute for 6,000 ratings by 1,200 readers of 1,200 texts); here the mixed-model equations
are solved by eliminating the larger factor's diagonal block and factorising the rest
(a sparse LU, or a dense Cholesky where the LU would fill in: ``DENSE_FILL``), so a fit
of crowd-enVent's 6,000 ratings takes about a second.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg, optimize, sparse, stats
from scipy.sparse.linalg import splu

from empathylab.errors import EmpathylabError

__all__ = ["fit_crossed"]

#: A sparse LU whose factors hold more than this share of a dense matrix's entries gives way
#: to a dense Cholesky.
DENSE_FILL = 0.25


def _level_sums(codes: np.ndarray, k: int, values: np.ndarray) -> np.ndarray:
    out = np.zeros((k, values.shape[1]))
    np.add.at(out, codes, values)
    return out


def fit_crossed(y: Any, X: pd.DataFrame, a: Any, b: Any, *, level: float = 0.95) -> dict[str, Any]:
    """Fit ``y ~ X + (1 | a) + (1 | b)`` by REML; Wald intervals for the fixed effects.

    ``X`` holds the fixed-effect columns, an intercept included (``X`` is not augmented);
    ``a`` and ``b`` give each observation's level of the two crossed factors.

    Returns
    -------
    dict
        ``fixed`` (DataFrame indexed by ``X``'s columns: ``coef, se, ci_low, ci_high, p``,
        a two-sided z test as statsmodels reports), ``sd_a``, ``sd_b``, ``resid_sd``,
        ``n_obs``, ``n_a``, ``n_b``, ``converged``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> text, reader = np.repeat(np.arange(200), 5), rng.integers(0, 150, 1000)
    >>> x = rng.integers(0, 2, 1000).astype(float)
    >>> y = 0.5 * x + rng.normal(0, 1, 200)[text] + rng.normal(0, 0.5, 150)[reader] + rng.normal(0, 1, 1000)
    >>> fit = fit_crossed(y, pd.DataFrame({"const": 1.0, "x": x}), text, reader)
    >>> bool(fit["fixed"].loc["x", "ci_low"] < 0.5 < fit["fixed"].loc["x", "ci_high"]), round(fit["sd_a"], 1)
    (True, 1.0)
    """
    y = np.asarray(y, dtype=np.float64)
    names = list(X.columns)
    X = X.to_numpy(dtype=np.float64)
    n, p = X.shape
    if len(y) != n or len(a) != n or len(b) != n:
        raise EmpathylabError(
            f"fit_crossed needs one y, a and b per row of X ({n}); got {len(y)}, {len(a)}, {len(b)}."
        )
    if not (np.isfinite(y).all() and np.isfinite(X).all()):
        raise EmpathylabError("fit_crossed got missing or infinite values; drop those rows first.")
    codes_a, levels_a = pd.factorize(pd.Series(a), sort=True)
    codes_b, levels_b = pd.factorize(pd.Series(b), sort=True)
    if len(levels_a) < len(levels_b):  # eliminate the larger factor's block
        swapped = fit_crossed(y, pd.DataFrame(X, columns=names), b, a, level=level)
        swapped["sd_a"], swapped["sd_b"] = swapped["sd_b"], swapped["sd_a"]
        swapped["n_a"], swapped["n_b"] = swapped["n_b"], swapped["n_a"]
        return swapped
    ka, kb = len(levels_a), len(levels_b)
    if n <= p + 2 or np.linalg.matrix_rank(X) < p:
        raise EmpathylabError(
            f"fit_crossed: {n} observations cannot identify {p} fixed effects and three variances."
        )
    M = np.column_stack([X, y])
    MM = M.T @ M
    ZM_a, ZM_b = _level_sums(codes_a, ka, M), _level_sums(codes_b, kb, M)
    n_a, n_b = np.bincount(codes_a, minlength=ka), np.bincount(codes_b, minlength=kb)
    N = sparse.csr_matrix((np.ones(n), (codes_a, codes_b)), shape=(ka, kb))  # counts per (a, b)

    def schur(theta: np.ndarray) -> tuple[sparse.spmatrix, np.ndarray, np.ndarray]:
        """Return S (the Schur complement on b's block), A (a's diagonal) and S's right-hand side."""
        ga, gb = np.exp(theta)
        A = n_a + 1.0 / ga
        # Two levels of b meet in S only through shared a's, so S is sparse.
        S = sparse.diags(n_b + 1.0 / gb) - N.T @ sparse.diags(1.0 / A) @ N
        return S, A, ZM_b - N.T @ (ZM_a / A[:, None])

    # S's pattern is the same for every θ. Readers rating texts in overlapping batches (as
    # in crowd-enVent) make it banded and a sparse LU is fast; readers assigned at random
    # make it an expander graph whose LU fills in almost completely, and a dense Cholesky
    # is then many times faster.
    trial = splu(schur(np.zeros(2))[0].tocsc())
    dense = trial.L.nnz + trial.U.nnz > DENSE_FILL * kb * kb

    def pieces(theta: np.ndarray) -> tuple[np.ndarray, float]:
        """Return M' V*^{-1} M and log|V*| for V* = I + γ_a Z_a Z_a' + γ_b Z_b Z_b'."""
        ga, gb = np.exp(theta)
        S, A, rhs = schur(theta)
        if dense:
            factor = linalg.cho_factor(S.toarray(), lower=True, check_finite=False)
            w = linalg.cho_solve(factor, rhs, check_finite=False)
            logdet_s = 2.0 * np.log(np.diag(factor[0])).sum()
        else:
            lu = splu(S.tocsc())
            w = lu.solve(rhs)
            logdet_s = np.log(np.abs(lu.U.diagonal())).sum()  # S is positive definite; L has a unit diagonal
        u = (ZM_a - N @ w) / A[:, None]
        Q = MM - ZM_a.T @ u - ZM_b.T @ w
        logdet = ka * np.log(ga) + kb * np.log(gb) + np.log(A).sum() + logdet_s
        return Q, logdet

    def reml(theta: np.ndarray) -> float:
        try:
            Q, logdet = pieces(theta)
            XVX, XVy = Q[:p, :p], Q[:p, p]
            rss = Q[p, p] - XVy @ np.linalg.solve(XVX, XVy)
            sign, logdet_x = np.linalg.slogdet(XVX)
            if rss <= 0 or sign <= 0:
                return np.inf
            return (n - p) * np.log(rss / (n - p)) + logdet + logdet_x
        except (np.linalg.LinAlgError, ValueError, RuntimeError):
            return np.inf

    best = min(
        (
            optimize.minimize(reml, np.array(start), method="L-BFGS-B", bounds=[(-14.0, 7.0)] * 2)
            for start in ((0.0, 0.0), (-2.0, -2.0))
        ),
        key=lambda r: r.fun,
    )
    Q, _ = pieces(best.x)
    XVX, XVy = Q[:p, :p], Q[:p, p]
    beta = np.linalg.solve(XVX, XVy)
    sigma2 = (Q[p, p] - XVy @ beta) / (n - p)
    se = np.sqrt(np.diag(sigma2 * np.linalg.inv(XVX)))
    z = stats.norm.ppf(0.5 + level / 2)
    fixed = pd.DataFrame(
        {
            "coef": beta,
            "se": se,
            "ci_low": beta - z * se,
            "ci_high": beta + z * se,
            "p": 2 * stats.norm.sf(np.abs(beta / se)),
        },
        index=names,
    )
    ga, gb = np.exp(best.x)
    return {
        "fixed": fixed,
        "sd_a": float(np.sqrt(sigma2 * ga)),
        "sd_b": float(np.sqrt(sigma2 * gb)),
        "resid_sd": float(np.sqrt(sigma2)),
        "n_obs": n,
        "n_a": ka,
        "n_b": kb,
        "converged": bool(best.success),
    }
