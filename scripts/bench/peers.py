"""``scripts/benchmark.py peers``: reco's ALS against implicit's ALS and Surprise's SVD.

On each release: one protocol split (:func:`reco.data.split.per_user_split`), then every method
fitted ``repeats`` times on its training part (repeats outermost, so background load hits
every method alike), fit time per run, and NDCG@10 etc. of the last fit on the test part
(:func:`reco.evaluation.metrics.evaluate_topn`, ``shared/EVALUATION.md``). All in one
process, one run.

Same model where the two libraries allow it (both fit Hu, Koren & Volinsky's implicit ALS
on the like matrix, rating >= 3.5):

* factors, iterations: the same numbers;
* confidence: reco gives a like ``1 + alpha``; implicit scales the matrix by its ``alpha``
  and uses the scaled value as the confidence, so implicit gets ``alpha = 1 + reco alpha``
  and both fit the identical objective;
* regularisation: both add ``lambda I`` to every user's and item's system (neither scales
  it by the row's count); both get reco's default ``0.135 sqrt(train likes)``;
* solver: both 3 conjugate gradient steps per half-step, warm-started; implicit per row
  in C++ threads, reco in batched NumPy over a thread pool with BLAS held to one thread;
* threads: the same number for both (2 by default); implicit holds BLAS to one thread too;
* what differs: the initial factors (implicit uniform in [0, 0.01), reco normal with sd
  0.01), and users without a like (implicit: zero factors; reco: the average user).

Surprise's SVD (SGD on the explicit ratings, one thread) gets the same factors and its
``n_epochs`` = the iterations, its other settings are Surprise's defaults; it ranks by
predicted rating. It runs only up to ``surprise_max_ratings`` (it is slow at scale).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from reco.columns import RATING, USER_ID
from reco.data.split import LIKE_THRESHOLD, Split, per_user_split
from reco.models.base import Recommender
from scripts.bench.report import runs_cell, target_row, targets_table

log = logging.getLogger(__name__)

PEERS_TITLE = "Factorization vs peers (issue: scale)"
RECO, IMPLICIT, SURPRISE = "reco ALS", "implicit ALS", "Surprise SVD"
IMPLICIT_REFERENCE = "implicit ALS, protocol settings (reg 0.05, alpha 2)"


@dataclass(frozen=True)
class PeerSettings:
    """What every method gets; see the module docstring for how they map."""

    factors: int = 64
    iterations: int = 15
    alpha: float = 2.0
    threads: int = 2
    k: int = 10
    surprise_max_ratings: int = 10_000_000
    reference_max_ratings: int = 200_000
    eval_max_users: int | None = None
    seed: int = 0


def _methods(settings: PeerSettings, reg: float,
             n_ratings: int) -> dict[str, Callable[[], Recommender] | str]:
    """Factories of the methods for one release (a string says why one is skipped)."""
    from reco.evaluation.peers.external import (
        ImplicitALSConfig,
        ImplicitALSPeer,
        SurpriseSVDConfig,
        SurpriseSVDPeer,
        implicit_available,
        surprise_available,
    )
    from reco.models.mf import ALSConfig, ALSRecommender

    s = settings
    methods: dict[str, Callable[[], Recommender] | str] = {
        RECO: lambda: ALSRecommender(ALSConfig(
            factors=s.factors, iterations=s.iterations, regularization=reg, alpha=s.alpha,
            threads=s.threads, random_state=s.seed)),
    }
    if not implicit_available():
        methods[IMPLICIT] = "implicit is not installed (pip install -e '.[peers]')"
    else:
        methods[IMPLICIT] = lambda: ImplicitALSPeer(ImplicitALSConfig(
            factors=s.factors, iterations=s.iterations, regularization=reg,
            alpha=1.0 + s.alpha, num_threads=s.threads, random_state=s.seed))
        if n_ratings <= s.reference_max_ratings:  # the protocol's reference line, for context
            methods[IMPLICIT_REFERENCE] = lambda: ImplicitALSPeer(ImplicitALSConfig(
                factors=s.factors, iterations=s.iterations, num_threads=s.threads,
                random_state=s.seed))
    if not surprise_available():
        methods[SURPRISE] = "scikit-surprise is not installed (pip install -e '.[peers]')"
    elif n_ratings > s.surprise_max_ratings:
        methods[SURPRISE] = (f"not run: {n_ratings:,} ratings > --surprise-max-ratings "
                             f"{s.surprise_max_ratings:,}")
    else:
        methods[SURPRISE] = lambda: SurpriseSVDPeer(SurpriseSVDConfig(
            n_factors=s.factors, n_epochs=s.iterations, random_state=s.seed))
    return methods


def eval_split(split: Split, max_users: int | None, seed: int) -> Split:
    """``split``, its test part cut to a uniform sample of ``max_users`` users if given."""
    users = split.test[USER_ID].unique().sort().to_numpy()
    if max_users is None or users.size <= max_users:
        return split
    keep = np.random.default_rng(seed).choice(users, max_users, replace=False)
    test = split.test.filter(pl.col(USER_ID).is_in(pl.Series(keep).implode()))
    return Split(train=split.train, test=test, kind=f"{split.kind}, {max_users} users sampled")


def compare_on(label: str, ratings: pl.DataFrame, settings: PeerSettings,
               repeats: int) -> dict[str, Any]:
    """Every method on one release's protocol split; JSON-ready."""
    from reco.evaluation.metrics import evaluate_topn
    from reco.models.mf import ALSConfig

    split = per_user_split(ratings)
    n_likes = int((split.train[RATING] >= LIKE_THRESHOLD).sum())
    reg = ALSConfig().resolve_regularization(n_likes)
    methods = _methods(settings, reg, ratings.height)
    runnable = {name: make for name, make in methods.items() if callable(make)}
    fits: dict[str, list[float]] = {name: [] for name in runnable}
    cpu: dict[str, list[float]] = {name: [] for name in runnable}
    last: dict[str, Recommender] = {}
    for repeat in range(repeats):
        for name, make in runnable.items():
            last.pop(name, None)  # free the previous fit before timing the next one
            model = make()
            started, cpu_started = time.perf_counter(), time.process_time()
            model.fit(split.train)
            fits[name].append(round(time.perf_counter() - started, 3))
            # CPU seconds of all threads / wall seconds: the cores the fit kept busy
            cpu[name].append(round(time.process_time() - cpu_started, 3))
            log.info("%s, repeat %d/%d: %s fitted in %.2fs", label, repeat + 1, repeats, name,
                     fits[name][-1])
            last[name] = model
    judged = eval_split(split, settings.eval_max_users, settings.seed)
    rows = []
    for name, make in methods.items():
        if not callable(make):
            rows.append({"method": name, "skipped": make})
            continue
        topn = evaluate_topn(last.pop(name), judged, k=settings.k)
        rows.append({"method": name, "fit_seconds": fits[name],
                     "median_fit_seconds": float(np.median(fits[name])),
                     "fit_cpu_seconds": cpu[name],
                     "busy_cores": round(float(np.sum(cpu[name]) / np.sum(fits[name])), 2),
                     **topn})
    by_name = {r["method"]: r for r in rows if "skipped" not in r}
    entry: dict[str, Any] = {"label": label, "n_ratings": ratings.height,
                             "split": split.summary(), "evaluated_on": judged.kind,
                             "train_likes": n_likes, "regularization": reg, "methods": rows}
    if RECO in by_name and IMPLICIT in by_name:
        reco, peer = by_name[RECO], by_name[IMPLICIT]
        ndcg = f"ndcg@{settings.k}"
        entry["reco_over_implicit_fit"] = round(
            reco["median_fit_seconds"] / peer["median_fit_seconds"], 3)
        entry["reco_minus_implicit_ndcg"] = round(reco[ndcg] - peer[ndcg], 4)
    return entry


def run_peers(datasets: list[tuple[str, Path]], settings: PeerSettings,
              repeats: int) -> dict[str, Any]:
    """:func:`compare_on` for each (label, release folder); JSON-ready."""
    from reco.data.movielens import load_movielens

    out: dict[str, Any] = {"settings": asdict(settings), "repeats": repeats, "datasets": []}
    for label, folder in datasets:
        data = load_movielens(folder)
        entry = compare_on(label, data.ratings, settings, repeats)
        out["datasets"].append({"data_dir": str(folder), **entry})
    return out


def peer_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """CF fit within 1.5x of implicit's, NDCG@10 no worse, on every release measured."""
    targets = []
    for d in result["datasets"]:
        if "reco_over_implicit_fit" not in d:
            continue
        targets.append(target_row(f"{d['label']}: reco ALS fit <= 1.5x implicit's",
                               d["reco_over_implicit_fit"], 1.5, "x"))
        diff = d["reco_minus_implicit_ndcg"]
        targets.append({"target": f"{d['label']}: reco NDCG@10 >= implicit's",
                        "measured": f"{diff:+.4f}", "status": "met" if diff >= 0 else "missed",
                        "margin": f"reco minus implicit {diff:+.4f}"})
    return targets


def render_peers(result: dict[str, Any], command: str) -> str:
    """The ``## Factorization vs peers`` section of docs/BENCHMARKS.md."""
    s = result["settings"]
    lines = [f"Command: `{command}`", "",
             f"{s['factors']} factors, {s['iterations']} iterations, {s['threads']} threads "
             f"for both ALS (Surprise: one thread), {result['repeats']} fit(s) per method, "
             "interleaved; one protocol split per release (`shared/EVALUATION.md`), metrics "
             "of the last fit. Fit seconds: `model.fit(train)` wall time, the same base-class "
             "preparation (id maps, rating matrix) included for every method; median and, in "
             "brackets, each run. Busy cores: CPU seconds of all threads / wall seconds of the "
             "fits. How the settings "
             "map between the libraries: `scripts/bench/peers.py` (same objective for both ALS: "
             "implicit's alpha = 1 + reco's alpha, the same lambda for both).", ""]
    k = s["k"]
    ndcg, recall, hits = f"ndcg@{k}", f"recall@{k}", f"hit_rate@{k}"
    for d in result["datasets"]:
        lines += [f"**{d['label']}** ({d['n_ratings']:,} ratings; train "
                  f"{d['split']['train_ratings']:,}, {d['train_likes']:,} likes; lambda "
                  f"{d['regularization']:.3g}; judged on {d['evaluated_on']})", "",
                  f"| method | fit seconds | / implicit ALS | busy cores | NDCG@{k} | "
                  f"Recall@{k} | HitRate@{k} | users |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        peer = next((m for m in d["methods"] if m["method"] == IMPLICIT and "skipped" not in m),
                    None)
        for m in d["methods"]:
            if "skipped" in m:
                lines.append(f"| {m['method']} | {m['skipped']} | | | | | | |")
                continue
            ratio = f"{m['median_fit_seconds'] / peer['median_fit_seconds']:.2f}x" if peer else "-"
            lines.append(
                f"| {m['method']} | {runs_cell(m['median_fit_seconds'], m['fit_seconds'])} | "
                f"{ratio} | {m['busy_cores']:.2f} | {m[ndcg]:.4f} | {m[recall]:.4f} | "
                f"{m[hits]:.4f} | "
                f"{m['n_users']:,} |")
        lines.append("")
    lines += targets_table(peer_targets(result))
    return "\n".join(lines)
