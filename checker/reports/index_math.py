"""Pure arithmetic of the efficacy index (DB50/T 957.7 §6.3.2): normalisation, weights, synthesis.

No store, no YAML: plain numbers in, plain numbers out, so every formula can be checked by hand.
Normalisers return a score on 0–100 (the efficacy coefficient method is 60–100 by construction).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

# Saaty's random consistency index RI by matrix order n (1-based; n = 1, 2 are always consistent).
SAATY_RI = (0.0, 0.0, 0.0, 0.58, 0.90, 1.12, 1.24, 1.32, 1.41, 1.45, 1.49, 1.51, 1.54, 1.56, 1.57, 1.59)
CR_LIMIT = 0.1
SUM_TOLERANCE = 1e-6

class IndexMathError(ValueError):
    """A weight set or comparison matrix that the method of §6.3.2.2 cannot accept (message in Chinese)."""


# ---------------------------------------------------------------- normalisation (§6.3.2.1)

def efficacy(x: float, best: float, worst: float) -> float:
    """功效系数法: 60 + 40 × (x − x_s)/(x_h − x_s), x clamped between 不允许值 x_s and 满意值 x_h.

    Works for either direction: when lower is better, x_h < x_s.
    """
    if best == worst:
        raise IndexMathError("功效系数法的满意值与不允许值不能相等")
    t = (x - worst) / (best - worst)
    return 60.0 + 40.0 * min(1.0, max(0.0, t))


def banded(x: float, bands: Sequence[tuple[float, float]]) -> float:
    """Graded-band efficacy score, formula (1) of §6.3.2.1:
    本档基础分 + (实际值 − 本档标准值)/(上档标准值 − 本档标准值) × (上档基础分 − 本档基础分).

    bands: (standard value, base score) from the worst band to the best; values may run either
    way (descending values when lower is better). Outside the bands the end score applies.
    """
    if len(bands) < 2:
        raise IndexMathError("分档计分至少需要两档")
    rising = bands[-1][0] > bands[0][0]
    sign = 1 if rising else -1

    def key(v: float) -> float:
        return sign * v
    if key(x) <= key(bands[0][0]):
        return float(bands[0][1])
    for (v0, s0), (v1, s1) in zip(bands, bands[1:]):
        if key(x) <= key(v1):
            return s0 + (x - v0) / (v1 - v0) * (s1 - s0)
    return float(bands[-1][1])


def min_max(x: float, values: Sequence[float], higher_better: bool = True) -> float:
    """Min-max: 100 × (x − min)/(max − min); all equal → 100 (nobody is behind)."""
    lo, hi = min(values), max(values)
    if hi == lo:
        return 100.0
    t = (x - lo) / (hi - lo)
    return 100.0 * (t if higher_better else 1.0 - t)


def z_score(x: float, values: Sequence[float], higher_better: bool = True) -> float:
    """z-score as a T score: 50 + 10 × (x − mean)/σ (population σ), clamped to 0–100."""
    mean = sum(values) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    z = 0.0 if sd == 0 else (x - mean) / sd
    z = z if higher_better else -z
    return min(100.0, max(0.0, 50.0 + 10.0 * z))


def log_scale(x: float, values: Sequence[float], higher_better: bool = True) -> float:
    """Log function transformation: 100 × log10(x)/log10(max); values must be ≥ 1."""
    top = max(values)
    if top <= 1:
        return 100.0
    t = math.log10(max(x, 1.0)) / math.log10(top)
    return 100.0 * (t if higher_better else 1.0 - t)


def atan_scale(x: float, higher_better: bool = True) -> float:
    """Atan function transformation: 100 × atan(x) × 2/π (x ≥ 0)."""
    t = math.atan(max(x, 0.0)) * 2.0 / math.pi
    return 100.0 * (t if higher_better else 1.0 - t)


# ---------------------------------------------------------------- weights (§6.3.2.2)

@dataclass(frozen=True)
class Ahp:
    weights: tuple[float, ...]
    lambda_max: float
    ci: float
    cr: float


def check_weights(weights: Sequence[float]) -> None:
    """The weights of one level must be non-negative and sum to 1."""
    if any(w < 0 for w in weights):
        raise IndexMathError("权重不能为负数")
    total = sum(weights)
    if abs(total - 1.0) > SUM_TOLERANCE:
        raise IndexMathError(f"同一层级的权重之和应为 1，实际为 {total:.6g}")


def ahp(matrix: Sequence[Sequence[float]]) -> Ahp:
    """层次分析法: principal eigenvector (power iteration) of a reciprocal pairwise matrix, with
    λmax, CI = (λmax − n)/(n − 1) and CR = CI/RI (Saaty). CR ≥ 0.1 is rejected."""
    n = len(matrix)
    _check_matrix(matrix)
    w = [1.0 / n] * n
    for _ in range(1000):
        nxt = [sum(matrix[i][j] * w[j] for j in range(n)) for i in range(n)]
        total = sum(nxt)
        nxt = [v / total for v in nxt]
        if max(abs(a - b) for a, b in zip(nxt, w)) < 1e-12:
            w = nxt
            break
        w = nxt
    lam = sum(sum(matrix[i][j] * w[j] for j in range(n)) / w[i] for i in range(n)) / n
    ci = (lam - n) / (n - 1) if n > 2 else 0.0
    cr = ci / SAATY_RI[n] if n > 2 else 0.0
    if cr >= CR_LIMIT:
        raise IndexMathError(f"判断矩阵一致性比率 CR = {cr:.3f} ≥ 0.1，未通过一致性检验，请调整两两比较值")
    return Ahp(tuple(w), lam, ci, cr)


def _check_matrix(matrix: Sequence[Sequence[float]]) -> None:
    n = len(matrix)
    if n == 0 or any(len(row) != n for row in matrix):
        raise IndexMathError("判断矩阵必须是方阵")
    if n >= len(SAATY_RI):
        raise IndexMathError(f"判断矩阵阶数 {n} 超出 Saaty RI 表（最多 {len(SAATY_RI) - 1} 阶）")
    for i in range(n):
        for j in range(n):
            a, b = matrix[i][j], matrix[j][i]
            if a <= 0 or abs(a * b - 1.0) > 1e-3:
                raise IndexMathError(f"判断矩阵第 {i + 1} 行第 {j + 1} 列应为正数且与对称位置互为倒数")


def entropy_weights(columns: Sequence[Sequence[float]]) -> tuple[float, ...]:
    """熵值法: columns[j] = indicator j's (non-negative) scores across orgs.
    p_ij = x_ij/Σx, e_j = −Σ p ln p / ln m, d_j = 1 − e_j, w_j = d_j/Σd (equal when all d are 0)."""
    m = len(columns[0]) if columns else 0
    if m < 2:
        return _equal(len(columns))
    d = []
    for col in columns:
        total = sum(col)
        ps = [v / total for v in col if v > 0] if total > 0 else []
        e = -sum(p * math.log(p) for p in ps) / math.log(m) if ps else 1.0
        d.append(1.0 - e)
    return _share(d)


def cv_weights(columns: Sequence[Sequence[float]]) -> tuple[float, ...]:
    """变异系数法: w_j ∝ σ_j/μ_j (population σ); equal when no indicator varies."""
    cvs = []
    for col in columns:
        mean = sum(col) / len(col) if col else 0.0
        sd = math.sqrt(sum((v - mean) ** 2 for v in col) / len(col)) if col else 0.0
        cvs.append(sd / mean if mean else 0.0)
    return _share(cvs)


def _share(values: Sequence[float]) -> tuple[float, ...]:
    total = sum(values)
    if total <= 1e-12:
        return _equal(len(values))
    return tuple(v / total for v in values)


def _equal(n: int) -> tuple[float, ...]:
    return tuple(1.0 / n for _ in range(n)) if n else ()


# ---------------------------------------------------------------- synthesis (§6.3.2.3, §6.3.2.4)

def weighted_sum(scores: Sequence[float | None], weights: Sequence[float]) -> float | None:
    """Linear weighted synthesis Σ w·P; parts without data drop out and the rest are re-weighted."""
    pairs = [(s, w) for s, w in zip(scores, weights) if s is not None]
    total = sum(w for _, w in pairs)
    if not pairs or total <= 0:
        return None
    return sum(s * w for s, w in pairs) / total


def rank(scores: dict[str, float | None]) -> dict[str, int | None]:
    """Competition ranking (1, 2, 2, 4) by score, highest first; no score → no rank."""
    ordered = sorted((s for s in scores.values() if s is not None), reverse=True)
    return {k: (ordered.index(s) + 1 if s is not None else None) for k, s in scores.items()}
