"""The sandbox's learner and FATE's binary Evaluation.

The learner is a real logistic regression, trained the way FATE's HeteroLR trains (federatedml
``linear_model``): raw features (no scaling), weights initialised to zeros, full-batch gradients
(mini-batches when ``batch_size`` is smaller than the table), the L2 penalty (its gradient) or the L1
penalty (shrinkage after each step) weighted by ``alpha``, the ``sgd``/``rmsprop``/``adam``/``adagrad`` optimizers with FATE's learning-rate decay
(``lr / sqrt(1 + decay * iter)``), ``max_iter`` iterations and the ``diff`` early stop at ``tol``.
The engine joins the guest's and the hosts' tables by id and trains on every party's features at
once: the result is what a federated HeteroLR converges to, without the encryption. Evaluation
computes the real metrics of those scores against the label column, in the metric namespaces and
names FATE 1.11 uses (``train`` / ``<learner>``, ``<learner>_roc``, ...). Unlike FATE, the learner
standardises the features internally (the reported weights are for the raw features), so its AUC is
close to FATE's, not equal (the recorded job: 0.926 on FATE, 0.98 here). Pure Python: the example
tables (200 rows, 10 features, 30 iterations) take about 60 ms.
"""
from __future__ import annotations

import math
import random
from typing import Any


def _num(x: str) -> float | None:
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def to_features(values: list[str]) -> list[float]:
    """A row's feature strings as floats (missing or non-numeric values count as 0, FATE's default fill)."""
    out = []
    for v in values:
        f = _num(v)
        out.append(f if f is not None and math.isfinite(f) else 0.0)
    return out


def _sigmoid(z: float) -> float:
    z = max(min(z, 60.0), -60.0)
    return 1.0 / (1.0 + math.exp(-z))


def fit_logistic(x: list[list[float]], y: list[int], params: dict[str, Any]) -> dict[str, Any]:
    """Train a logistic regression as FATE's HeteroLR does (see the module docstring).

    :param x: feature rows (all parties' features, joined by id).
    :param y: labels (0/1).
    :param params: the learner's ComponentParam (``max_iter``, ``learning_rate``, ``penalty``, ``alpha``,
        ``optimizer``, ``batch_size``, ``tol``, ``early_stop``, ``decay``, ``decay_sqrt``,
        ``init_param.fit_intercept``, ``cv_param.random_seed``).
    :return: ``weights`` (one per feature), ``intercept``, ``iters`` run, ``converged``, ``loss_history``.
    """
    n = len(x)
    d = len(x[0]) if x else 0
    # standardise inside the learner (FATE trains on the raw values, where an optimizer step of the
    # learning rate moves every weight about as far: the same ranks, a steadier path); the weights are
    # mapped back to the raw features below
    mean = [sum(r[j] for r in x) / n for j in range(d)] if n else [0.0] * d
    std = [math.sqrt(sum((r[j] - mean[j]) ** 2 for r in x) / n) or 1.0 for j in range(d)] if n else [1.0] * d
    x = [[(r[j] - mean[j]) / std[j] for j in range(d)] for r in x]
    max_iter = max(int(params.get("max_iter", 100) or 0), 0)
    lr0 = float(params.get("learning_rate", 0.01) or 0.01)
    alpha = float(params.get("alpha", 1.0) or 0.0)
    penalty = str(params.get("penalty") or "L2").upper()
    optimizer = str(params.get("optimizer") or "rmsprop").lower()
    tol = float(params.get("tol", 1e-4) or 0.0)
    early_stop = str(params.get("early_stop") or "diff")
    decay = float(params.get("decay", 1) or 0.0)
    decay_sqrt = bool(params.get("decay_sqrt", True))
    fit_intercept = bool((params.get("init_param") or {}).get("fit_intercept", True))
    batch = int(params.get("batch_size", -1) or -1)
    batch = n if batch <= 0 or batch >= n else batch
    w = [0.0] * d
    b = 0.0
    m1 = [0.0] * (d + 1)
    m2 = [0.0] * (d + 1)
    order = list(range(n))
    rng = random.Random(int((params.get("cv_param") or {}).get("random_seed") or 1))
    loss_history: list[float] = []
    converged = False
    iters = 0
    for it in range(max_iter):
        iters = it + 1
        lr = lr0 / (math.sqrt(1 + decay * it) if decay_sqrt else (1 + decay * it))
        if batch < n:
            rng.shuffle(order)
        loss = 0.0
        for start in range(0, n, batch):
            idx = order[start:start + batch]
            grad = [0.0] * (d + 1)
            for i in idx:
                xi = x[i]
                p = _sigmoid(b + sum(wj * xj for wj, xj in zip(w, xi)))
                err = p - y[i]
                for j in range(d):
                    grad[j] += err * xi[j]
                grad[d] += err
                loss -= math.log(max(p, 1e-15)) if y[i] else math.log(max(1 - p, 1e-15))
            k = len(idx) or 1
            grad = [g / k for g in grad]
            if penalty == "L2":  # FATE's L2Updater: the penalty's gradient joins the loss's
                for j in range(d):
                    grad[j] += alpha * w[j]
            if not fit_intercept:
                grad[d] = 0.0
            step = _optimizer_step(optimizer, grad, m1, m2, lr, it + 1)
            for j in range(d):
                w[j] -= step[j]
                if penalty == "L1":  # FATE's L1Updater: shrink towards zero after the step
                    w[j] = math.copysign(max(abs(w[j]) - lr * alpha, 0.0), w[j])
            b -= step[d]
        loss /= max(n, 1)
        if penalty == "L2":
            loss += 0.5 * alpha * sum(wj * wj for wj in w)
        elif penalty == "L1":
            loss += alpha * sum(abs(wj) for wj in w)
        loss_history.append(loss)
        if early_stop == "diff" and len(loss_history) > 1 and abs(loss_history[-2] - loss) < tol:
            converged = True
            break
        if early_stop == "abs" and loss < tol:
            converged = True
            break
    raw_w = [w[j] / std[j] for j in range(d)]
    raw_b = b - sum(w[j] * mean[j] / std[j] for j in range(d))
    return {"weights": raw_w, "intercept": raw_b, "iters": iters, "converged": converged,
            "loss_history": loss_history}


def _optimizer_step(name: str, grad: list[float], m1: list[float], m2: list[float], lr: float,
                    t: int) -> list[float]:
    """One update of FATE's optimizers (``m1``/``m2`` are the optimizer's state, updated in place)."""
    if name == "rmsprop":
        rho = 0.99
        for j, g in enumerate(grad):
            m2[j] = rho * m2[j] + (1 - rho) * g * g
        return [lr * g / math.sqrt(m2[j] + 1e-6) for j, g in enumerate(grad)]
    if name == "adam":
        b1, b2 = 0.9, 0.999
        out = []
        for j, g in enumerate(grad):
            m1[j] = b1 * m1[j] + (1 - b1) * g
            m2[j] = b2 * m2[j] + (1 - b2) * g * g
            out.append(lr * (m1[j] / (1 - b1 ** t)) / (math.sqrt(m2[j] / (1 - b2 ** t)) + 1e-8))
        return out
    if name == "adagrad":
        for j, g in enumerate(grad):
            m2[j] += g * g
        return [lr * g / math.sqrt(m2[j] + 1e-7) for j, g in enumerate(grad)]
    return [lr * g for g in grad]  # sgd (and anything FATE would refuse)


def score(features: list[float], weights: list[float], intercept: float) -> float:
    """The predicted probability of label 1."""
    return _sigmoid(intercept + sum(w * f for w, f in zip(weights, features)))


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
