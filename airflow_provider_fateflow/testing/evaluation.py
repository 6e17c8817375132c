"""Deterministic stand-ins for FATE's learners and its binary Evaluation component.

The "model" is fixed: each numeric feature is standardised over the table and the score is
``sigmoid(-1.5 * mean(z))``. On the breast-cancer sample this gives a stable, plausible AUC.
Evaluation computes the real metrics of those scores against the label column, in the
metric namespaces and names FATE 1.11 uses (``train`` / ``<learner>``, ``<learner>_roc``, ...).
"""
from __future__ import annotations

import math
from typing import Any


def _num(x: str) -> float | None:
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def fit_weights(header: list[str], rows: list[list[str]], exclude: set[str]) -> dict[str, Any]:
    """Per-feature mean/std and the fixed weights of the pseudo-model."""
    stats: dict[str, tuple[float, float]] = {}
    for j, col in enumerate(header):
        if col in exclude:
            continue
        vals = [v for v in (_num(r[j]) for r in rows if j < len(r)) if v is not None]
        if not vals:
            continue
        mean = sum(vals) / len(vals)
        std = math.sqrt(sum((v - mean) ** 2 for v in vals) / len(vals)) or 1.0
        stats[col] = (mean, std)
    k = max(len(stats), 1)
    weights = {col: round(-1.5 / k / s, 12) for col, (m, s) in stats.items()}
    intercept = round(sum(1.5 / k * m / s for m, s in stats.values()), 12)
    return {"stats": stats, "weight": weights, "intercept": intercept}


def score_rows(header: list[str], rows: list[list[str]], model: dict[str, Any]) -> list[float]:
    """Scores in [0, 1] of every row under the pseudo-model."""
    idx = {c: header.index(c) for c in model["weight"] if c in header}
    out = []
    for r in rows:
        z = model["intercept"]
        for col, j in idx.items():
            v = _num(r[j]) if j < len(r) else None
            z += model["weight"][col] * (v if v is not None else model["stats"][col][0])
        z = max(min(z, 60.0), -60.0)
        out.append(1.0 / (1.0 + math.exp(-z)))
    return out


def _r(x: float) -> float:
    return round(float(x), 6)


def auc(labels: list[int], scores: list[float]) -> float:
    """Area under the ROC curve (rank statistic, ties averaged)."""
    pairs = sorted(zip(scores, labels))
    n_pos = sum(labels)
    n_neg = len(labels) - n_pos
    if not n_pos or not n_neg:
        return 0.5
    rank_sum, i = 0.0, 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        avg_rank = (i + j + 1) / 2
        rank_sum += avg_rank * sum(1 for k in range(i, j) if pairs[k][1] == 1)
        i = j
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def binary_metrics(name: str, labels: list[int], scores: list[float]) -> list[tuple[str, list[Any], dict[str, Any]]]:
    """Every metric FATE's binary evaluation logs, as ``(metric_name, data, meta)``, namespace ``train``."""
    n = len(labels)
    pos = sum(labels) or 1
    neg = (n - sum(labels)) or 1
    thresholds = [i / 100 for i in range(100)]
    tp, fp, tn, fn = [], [], [], []
    for t in thresholds:
        p = [s >= t for s in scores]
        tp.append(sum(1 for pi, y in zip(p, labels) if pi and y == 1))
        fp.append(sum(1 for pi, y in zip(p, labels) if pi and y == 0))
        tn.append(sum(1 for pi, y in zip(p, labels) if not pi and y == 0))
        fn.append(sum(1 for pi, y in zip(p, labels) if not pi and y == 1))
    tpr = [_r(a / pos) for a in tp]
    fpr = [_r(b / neg) for b in fp]
    ks = max((a - b for a, b in zip(tpr, fpr)), default=0.0)
    acc = [_r((a + c) / max(n, 1)) for a, c in zip(tp, tn)]
    prec = [_r(a / (a + b)) if a + b else 1.0 for a, b in zip(tp, fp)]
    f1 = [_r(2 * p * r / (p + r)) if p + r else 0.0 for p, r in zip(prec, tpr)]
    quant = [i / 20 for i in range(21)]
    gain = [[q, _r(sum(1 for s, y in sorted(zip(scores, labels), reverse=True)[: int(q * n)] if y) / pos)]
            for q in [i / 100 for i in range(101)]]
    lift = [[q, _r(g / q) if q else _r(n / pos)] for q, g in gain]
    roc = sorted({(f, t) for f, t in zip(fpr, tpr)} | {(0.0, 0.0), (1.0, 1.0)})
    short = thresholds[:62]
    summary = [["auc", _r(auc(labels, scores))], ["ks", _r(ks)]]
    return [
        (name, summary, {"metric_type": "EVALUATION_SUMMARY", "name": name}),
        (f"{name}_ks_fpr", [[q, f] for q, f in zip([i / 100 for i in range(101)], fpr + [1.0])],
         {"curve_name": f"{name}_fpr", "metric_type": "KS_EVALUATION", "name": f"{name}_ks_fpr",
          "pair_type": name, "thresholds": thresholds}),
        (f"{name}_ks_tpr", [[q, t] for q, t in zip([i / 100 for i in range(101)], tpr + [1.0])],
         {"curve_name": f"{name}_tpr", "metric_type": "KS_EVALUATION", "name": f"{name}_ks_tpr",
          "pair_type": name, "thresholds": thresholds}),
        (f"{name}_lift", lift, {"curve_name": name, "metric_type": "LIFT_EVALUATION", "name": f"{name}_lift",
                                "thresholds": [q for q, _ in lift]}),
        (f"{name}_gain", gain, {"curve_name": name, "metric_type": "GAIN_EVALUATION", "name": f"{name}_gain",
                                "thresholds": [q for q, _ in gain]}),
        (f"{name}_accuracy", [[t, a] for t, a in zip(thresholds, acc)],
         {"curve_name": name, "metric_type": "ACCURACY_EVALUATION", "name": f"{name}_accuracy",
          "thresholds": thresholds}),
        (f"{name}_precision", [[t, p] for t, p in zip(short, prec)],
         {"curve_name": name, "metric_type": "PRECISION_BINARY_EVALUATION", "name": f"{name}_precision",
          "ordinate_name": "Precision", "pair_type": name, "thresholds": short}),
        (f"{name}_recall", [[t, r] for t, r in zip(short, tpr)],
         {"curve_name": name, "metric_type": "RECALL_BINARY_EVALUATION", "name": f"{name}_recall",
          "ordinate_name": "Recall", "pair_type": name, "thresholds": short}),
        (f"{name}_roc", [[f, t] for f, t in roc],
         {"curve_name": name, "metric_type": "ROC_EVALUATION", "name": f"{name}_roc", "ordinate_name": "tpr",
          "thresholds": [_r(x) for x in [1.0 - i / max(len(roc) - 1, 1) for i in range(len(roc))]],
          "unit_name": "fpr"}),
        (f"{name}_confusion_mat", [], {"fn": fn, "fp": fp, "metric_type": "CONFUSION_MAT",
                                       "name": f"{name}_confusion_mat", "thresholds": thresholds, "tn": tn, "tp": tp}),
        (f"{name}_f1_score", [], {"f1_scores": f1, "metric_type": "F1_SCORE", "name": f"{name}_f1_score",
                                  "thresholds": thresholds}),
        (f"{name}_quantile_pr", [], {"metric_type": "QUANTILE_PR", "name": f"{name}_quantile_pr",
                                     "p_scores": [[q, prec[min(int(q * 99), 99)]] for q in quant],
                                     "r_scores": [[q, tpr[min(int(q * 99), 99)]] for q in quant],
                                     "thresholds": quant}),
    ]
