"""Bayesian matrix factorisation with user and item biases, fitted by Gibbs sampling (pure numpy).

The model is BPMF (Salakhutdinov & Mnih, *Bayesian Probabilistic Matrix Factorization using Markov Chain
Monte Carlo*, ICML 2008) extended with a bias per user and per item::

    r_ui - mu  ~  N(b_u + c_i + U_u . V_i,  1 / alpha)

Each user's vector ``[U_u, b_u]`` and each item's vector ``[V_i, c_i]`` (``k + 1`` numbers) has a Gaussian
prior whose mean and precision have a Normal-Wishart hyper-prior; the noise precision ``alpha`` has a
Gamma prior.  Every sweep samples the hyper-parameters, then all users given the items, then all items
given the users, then ``alpha``.  Predictions average the samples drawn after a burn-in, which is what
makes the model hard to over-fit: there is no learning rate or regularisation constant to tune.

Everything is vectorised: the per-entity sufficient statistics are ``np.add.reduceat`` sums over ratings
sorted by entity, and the per-entity Gaussians are drawn with batched Cholesky factorisations.

The fitted model keeps ``keep`` thinned samples: the served prediction ``mu + mean_s(x_u^s . z_i^s)`` is
one matrix product of the concatenated samples (see :meth:`BayesianMF.factors_matrix`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

__all__ = ["BayesianMF", "FitResult", "rmse"]

_CHUNK = 16384  # ratings per block of outer products (bounds memory: CHUNK * d * d floats)


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Root mean squared error."""
    return float(np.sqrt(np.mean((np.asarray(predicted) - np.asarray(actual)) ** 2)))


@dataclass
class FitResult:
    """What a fit produced besides the model: wall time and the noise precision's last sample."""

    seconds: float
    alpha: float
    sweeps: int


@dataclass
class _Side:
    """The entities of one side (users or items): ratings sorted by entity, and the entity of each run."""

    order: np.ndarray  # permutation sorting the ratings by this side's index
    index: np.ndarray  # this side's index of each sorted rating
    other: np.ndarray  # the other side's index of each sorted rating
    count: int  # number of entities of this side


def _side(mine: np.ndarray, other: np.ndarray, count: int) -> _Side:
    order = np.argsort(mine, kind="stable")
    return _Side(order=order, index=mine[order], other=other[order], count=count)


def _sample_wishart(rng: np.random.Generator, scale: np.ndarray, dof: float) -> np.ndarray:
    """One draw of Wishart(scale, dof) by the Bartlett decomposition."""
    d = scale.shape[0]
    chol = np.linalg.cholesky(scale)
    a = np.tril(rng.standard_normal((d, d)), -1)
    a[np.diag_indices(d)] = np.sqrt(rng.chisquare(dof - np.arange(d)))
    la = chol @ a
    return la @ la.T


def _sample_hyper(rng: np.random.Generator, feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sample (mean, precision) of the entities' prior given their vectors (Normal-Wishart posterior)."""
    n, d = feats.shape
    beta0, nu0 = 2.0, float(d)
    mean = feats.mean(axis=0)
    centred = feats - mean
    scatter = centred.T @ centred
    w_inv = np.eye(d) + scatter + (beta0 * n / (beta0 + n)) * np.outer(mean, mean)
    w_star = np.linalg.inv(w_inv)
    w_star = (w_star + w_star.T) / 2
    precision = _sample_wishart(rng, w_star, nu0 + n)
    mu_star = n * mean / (beta0 + n)
    cov = np.linalg.inv((beta0 + n) * precision)
    mu = rng.multivariate_normal(mu_star, (cov + cov.T) / 2)
    return mu, precision


def _statistics(side: _Side, design: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per entity of ``side``: sum of z z^T and of z t over its ratings (z = design row of the other side)."""
    d = design.shape[1]
    design32 = design.astype(np.float32)
    outer = (design32[:, :, None] * design32[:, None, :]).reshape(-1, d * d)
    gram = np.zeros((side.count, d * d))
    rhs = np.zeros((side.count, d))
    n = side.index.shape[0]
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        idx = side.index[start:stop]
        oth = side.other[start:stop]
        starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
        ents = idx[starts]
        gram[ents] += np.add.reduceat(outer[oth], starts, axis=0)
        rhs[ents] += np.add.reduceat(
            design32[oth] * target[start:stop, None].astype(np.float32), starts, axis=0
        )
    return gram.reshape(side.count, d, d), rhs


def _sample_side(
    rng: np.random.Generator,
    side: _Side,
    other_feats: np.ndarray,
    target_sorted: np.ndarray,
    alpha: float,
    mu: np.ndarray,
    precision: np.ndarray,
) -> np.ndarray:
    """Draw every entity's ``[factors, bias]`` given the other side (whose bias is the last column)."""
    k = other_feats.shape[1] - 1
    design = np.concatenate([other_feats[:, :k], np.ones((other_feats.shape[0], 1))], axis=1)
    target = target_sorted - other_feats[side.other, k]
    gram, rhs = _statistics(side, design, target)
    post = precision[None] + alpha * gram
    h = (precision @ mu)[None] + alpha * rhs
    chol = np.linalg.cholesky(post)
    y = np.linalg.solve(chol, h[..., None])
    z = rng.standard_normal(y.shape)
    return np.linalg.solve(np.swapaxes(chol, 1, 2), y + z)[..., 0]


@dataclass
class BayesianMF:
    """Biased Bayesian matrix factorisation (see the module).

    ``factors`` is the rank ``k``; ``burn_in`` sweeps are discarded, then ``samples`` sweeps are averaged;
    every ``thin``-th of those is kept for serving (``keep`` at most).  ``seed`` makes a fit reproducible.
    """

    factors: int = 10
    burn_in: int = 20
    samples: int = 100
    keep: int = 20
    seed: int = 0
    rating_range: tuple[float, float] = (1.0, 5.0)
    mean_: float = field(default=0.0, init=False)
    user_samples_: np.ndarray | None = field(default=None, init=False, repr=False)
    item_samples_: np.ndarray | None = field(default=None, init=False, repr=False)
    eval_prediction_: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("factors", "samples", "keep"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.burn_in < 0:
            raise ValueError(f"burn_in must not be negative, not {self.burn_in}")

    def fit(
        self,
        users: np.ndarray,
        items: np.ndarray,
        ratings: np.ndarray,
        n_users: int,
        n_items: int,
        *,
        eval_pairs: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> FitResult:
        """Fit to ``(users[j], items[j], ratings[j])`` (0-based indexes below ``n_users``/``n_items``).

        With ``eval_pairs`` the running average prediction for those (user, item) pairs is kept in
        ``self.eval_prediction_`` — the exact Bayesian average over all samples, cheaper than re-predicting.
        """
        start = time.perf_counter()
        rng = np.random.default_rng(self.seed)
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        ratings = np.asarray(ratings, dtype=np.float64)
        self.mean_ = float(ratings.mean())
        y = ratings - self.mean_
        d = self.factors + 1
        by_user = _side(users, items, n_users)
        by_item = _side(items, users, n_items)
        y_by_user, y_by_item = y[by_user.order], y[by_item.order]
        u_feats = 0.1 * rng.standard_normal((n_users, d))
        i_feats = 0.1 * rng.standard_normal((n_items, d))
        alpha = 2.0
        a0, b0 = 1.0, 1.0
        kept_u: list[np.ndarray] = []
        kept_i: list[np.ndarray] = []
        total = self.burn_in + self.samples
        thin = max(1, self.samples // max(1, self.keep))
        eval_sum = None
        if eval_pairs is not None:
            eu, ei = (np.asarray(a, dtype=np.int64) for a in eval_pairs)
            eval_sum = np.zeros(eu.shape[0])
        for sweep in range(total):
            mu_u, lam_u = _sample_hyper(rng, u_feats)
            u_feats = _sample_side(rng, by_user, i_feats, y_by_user, alpha, mu_u, lam_u)
            mu_i, lam_i = _sample_hyper(rng, i_feats)
            i_feats = _sample_side(rng, by_item, u_feats, y_by_item, alpha, mu_i, lam_i)
            residual = y - _dot(u_feats, i_feats, users, items)
            alpha = rng.gamma(a0 + y.shape[0] / 2, 1.0 / (b0 + 0.5 * residual @ residual))
            if sweep < self.burn_in:
                continue
            taken = sweep - self.burn_in
            if eval_sum is not None:
                eval_sum += _dot(u_feats, i_feats, eu, ei)
            if taken % thin == thin - 1 and len(kept_u) < self.keep:
                kept_u.append(u_feats.astype(np.float32))
                kept_i.append(i_feats.astype(np.float32))
        self.user_samples_ = np.stack(kept_u)
        self.item_samples_ = np.stack(kept_i)
        if eval_sum is not None:
            lo, hi = self.rating_range
            self.eval_prediction_ = np.clip(self.mean_ + eval_sum / max(1, self.samples), lo, hi)
        return FitResult(seconds=time.perf_counter() - start, alpha=float(alpha), sweeps=total)

    def factors_matrix(self) -> tuple[np.ndarray, np.ndarray]:
        """``(P, Q)`` with ``mean_ + P[u] . Q[i]`` = the prediction averaged over the kept samples."""
        if self.user_samples_ is None or self.item_samples_ is None:
            raise RuntimeError("the model is not fitted")
        s, n_users, d = self.user_samples_.shape
        k = d - 1
        users = np.concatenate(
            [self.user_samples_, np.ones((s, n_users, 1), np.float32)], axis=2
        )  # [U, b, 1]
        n_items = self.item_samples_.shape[1]
        items = np.concatenate(
            [
                self.item_samples_[:, :, :k],
                np.ones((s, n_items, 1), np.float32),
                self.item_samples_[:, :, k:],
            ],
            axis=2,
        )  # [V, 1, c]
        p = np.transpose(users, (1, 0, 2)).reshape(n_users, -1) / s
        q = np.transpose(items, (1, 0, 2)).reshape(n_items, -1)
        return p.astype(np.float32), q.astype(np.float32)

    def biases(self) -> tuple[np.ndarray, np.ndarray]:
        """The posterior mean (over the kept samples) of each user's and each item's bias."""
        if self.user_samples_ is None or self.item_samples_ is None:
            raise RuntimeError("the model is not fitted")
        return self.user_samples_[:, :, -1].mean(axis=0), self.item_samples_[:, :, -1].mean(axis=0)

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Predicted ratings for the pairs ``(users[j], items[j])``, clipped to ``rating_range``."""
        p, q = self.factors_matrix()
        lo, hi = self.rating_range
        raw = self.mean_ + np.einsum("ij,ij->i", p[users], q[items])
        return np.clip(raw, lo, hi)


def _dot(u_feats: np.ndarray, i_feats: np.ndarray, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """``b_u + c_i + U_u . V_i`` for each pair."""
    k = u_feats.shape[1] - 1
    uf, itf = u_feats[users], i_feats[items]
    return np.einsum("ij,ij->i", uf[:, :k], itf[:, :k]) + uf[:, k] + itf[:, k]
