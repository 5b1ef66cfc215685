"""The refit on all the ratings, cold or warm-started, and the rating model's choice: what
each costs in accuracy (issue 17).

Each setting fits reco full on the evaluation protocol's train part of one release (the
per-user split, tags cut at each user's split point, as ``scripts/evaluate.py``'s
``reco full``) and scores NDCG@10 and the like/dislike ROC-AUC on its test rows. A setting
is ``cold`` (both ALS models refitted from noise with their own iterations) or a number
of warm-started sweeps (``8``; ``4/3``: 4 of the implicit model, 3 of the explicit rating
model), optionally prefixed ``svd-`` for the centred SVD rating model in place of explicit
ALS (``svd-8``) and suffixed ``+cgK`` for K conjugate gradient steps per half-sweep of the
explicit rating model (``4/3+cg2``; the config's own otherwise) and ``+likeN`` for the
like model's tree depth N (``4/3+like4``), in that order.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

SETTING = re.compile(
    r"^(svd-)?(cold|[1-9][0-9]{0,3})(?:/([1-9][0-9]{0,3}))?(?:\+cg([1-9][0-9]?))?"
    r"(?:\+like([1-9][0-9]?))?$")


def like_depth(text: str) -> int | None:
    """The like model's depth a setting asks for (``"4/3+like4"`` -> 4), None if none."""
    match = SETTING.match(text)
    return int(match[5]) if match is not None and match[5] else None


def parse_setting(text: str) -> tuple[str, int | None, int | None, int | None]:
    """``"svd-8"`` -> ("svd", 8, None, None); ``"cold"`` -> ("explicit_als", None, None,
    None); ``"4/3"`` -> ("explicit_als", 4, 3, None): 4 warm sweeps of the implicit model,
    3 of the explicit rating model; ``"4/3+cg2"``: the same with 2 CG steps per half-sweep
    of the explicit rating model (None: its config's)."""
    match = SETTING.match(text)
    if match is None or (match[2] == "cold" and match[3]) or (match[1] and match[4]):
        raise ValueError(f"setting {text!r}: cold, a number of sweeps (optionally /the "
                         "rating model's sweeps), or either after svd-; +cgK after an "
                         "explicit ALS setting")
    rating = "svd" if match[1] else "explicit_als"
    return (rating, None if match[2] == "cold" else int(match[2]),
            int(match[3]) if match[3] else None, int(match[4]) if match[4] else None)


def score_fit(data: Any, config: Any) -> dict[str, Any]:
    """reco full with ``config`` fitted on the protocol's train part of ``data`` (a
    MovieLensData): NDCG@10 and like AUC on its test part, and the fit's seconds."""
    from sklearn.metrics import roc_auc_score

    from reco.columns import MOVIE_ID, RATING, USER_ID
    from reco.data.split import LIKE_THRESHOLD, per_user_split
    from reco.evaluation.metrics import evaluate_topn
    from reco.evaluation.protocol import tags_seen_in_train
    from reco.ranking.hybrid import HybridRecommender

    split = per_user_split(data.ratings)
    tags = tags_seen_in_train(data.tags, split, data.ratings)
    liked = (split.test[RATING].to_numpy() >= LIKE_THRESHOLD).astype(int)
    started = time.perf_counter()
    model = HybridRecommender(config).fit(split.train, data.movies, tags=tags,
                                          links=data.links)
    seconds = time.perf_counter() - started
    topn = evaluate_topn(model, split, k=10, like_threshold=LIKE_THRESHOLD)
    p_like = model.predict_like(split.test[USER_ID].to_numpy(),
                                split.test[MOVIE_ID].to_numpy())
    return {"ndcg@10": round(float(topn["ndcg@10"]), 5),
            "like_auc": round(float(roc_auc_score(liked, np.asarray(p_like))), 5),
            "fit_seconds": round(seconds, 1)}


def run_refit(data_dir: Path, settings: list[str], base: Any = None, *,
              seeds: tuple[int, ...] = (0,), generality: Path | None = None,
              only: list[str] | None = None) -> dict[str, Any]:
    """Each setting's NDCG@10, like AUC and fit seconds on ``data_dir``; ``base``: the
    HybridConfig the settings change (default: reco's). ``seeds``: the ALS models' random
    states, one fit per seed and setting (the spread of one split's noise).
    ``generality``: a scratch folder to write the generality suite's releases into
    (:mod:`reco.evaluation.generality`: ``data_dir`` cut at two dates and halved in
    users, and the synthetic shapes), each scored the same way (``only``: those named)."""
    from reco.data.movielens import load_movielens
    from reco.evaluation.generality import derived_releases, synthetic_releases
    from reco.ranking.hybrid import HybridConfig

    parsed = [parse_setting(s) for s in settings]
    releases = [(data_dir.name, data_dir)]
    if generality is not None:
        made = derived_releases(data_dir, generality) + synthetic_releases(generality)
        releases += [(r.name, r.path) for r in made]
    if only:
        releases = [r for r in releases if r[0] in only]
    rows = []
    for name, path in releases:
        data = load_movielens(path)
        for seed in seeds:
            for text, (rating, sweeps, rating_sweeps, cg_steps) in zip(settings, parsed):
                config = replace(base or HybridConfig(), refit_iterations=sweeps,
                                 rating_model=rating, rating_refit_iterations=rating_sweeps)
                if cg_steps is not None:
                    config = replace(config, rating_als=replace(config.rating_als,
                                                                cg_steps=cg_steps))
                depth = like_depth(text)
                if depth is not None:
                    config = replace(config, ranker=replace(config.ranker,
                                                            like_max_depth=depth))
                if seed:
                    config = replace(config, cf=replace(config.cf, random_state=seed),
                                     rating_als=replace(config.rating_als, random_state=seed))
                rows.append({"release": name, "seed": seed, "setting": text,
                             "rating_model": rating, "refit_iterations": sweeps,
                             "rating_refit_iterations": config.rating_refit_iterations,
                             "rating_cg_steps": config.rating_als.cg_steps,
                             "like_max_depth": config.ranker.like_max_depth,
                             **score_fit(data, config)})
    return {"data": str(data_dir), "settings": rows}
