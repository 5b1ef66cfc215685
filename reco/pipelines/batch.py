"""Batch recommendation: top-k for a file of user ids, as ``user_id,rank,movie_id,score``."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import polars as pl

from reco.exceptions import DataFormatError
from reco.models.base import BaseRecommender, Recommender

log = logging.getLogger(__name__)


def read_user_ids(path: str | Path) -> np.ndarray:
    """One integer user id per line (blank lines and ``#`` comments skipped), in order,
    duplicates removed (first kept). Errors name the file, line and value."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError("file not found", path=path)
    ids: list[int] = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            try:
                ids.append(int(text))
            except ValueError:
                raise DataFormatError(
                    "not an integer user id", path=path, line=number, field="user_id", value=text
                ) from None
    if not ids:
        raise DataFormatError("no user ids in the file", path=path)
    _, first = np.unique(np.array(ids, dtype=np.int64), return_index=True)
    return np.array(ids, dtype=np.int64)[np.sort(first)]


def recommend_file(artifacts: str | Path, users: str | Path, k: int,
                   out: str | Path) -> pl.DataFrame:
    """Top-k for every user id in the file ``users`` (:func:`read_user_ids`) with the model
    trained into ``artifacts``, written to the CSV ``out``; returns the rows."""
    from reco.artifacts.model_dir import load_model  # XGBoost and the models: only when used

    model, _, _ = load_model(artifacts)
    user_ids = read_user_ids(users)
    frame, unknown = recommend_for_users(model, model.stage_.popular, user_ids, k)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.write_csv(out)
    log.info("wrote %d rows for %d users (%d unknown, served popular) to %s",
             frame.height, user_ids.size, unknown, out)
    return frame


def recommend_for_users(
    model: BaseRecommender, fallback: Recommender, user_ids: np.ndarray, k: int
) -> tuple[pl.DataFrame, int]:
    """Top-k rows for every user; users unknown to ``model`` get ``fallback``'s list.

    Returns the frame (``user_id, rank, movie_id, score``, rank 1 = best; input order) and
    the number of unknown users.
    """
    known = np.isin(user_ids, model.user_map_.ids)
    parts = []
    if known.any():
        ids, scores = model.recommend_batch(user_ids[known], k, exclude_seen=True)
        parts.append((user_ids[known], ids, scores))
    n_unknown = int((~known).sum())
    if n_unknown:
        # Users the model never saw have rated nothing it knows: the fallback's list for
        # someone with no ratings (for popularity, the most liked movies as they are).
        top_ids, top_scores = fallback.recommend_new_user([], [], k)
        fb_ids = np.full((1, k), -1, dtype=np.int64)
        fb_scores = np.full((1, k), -np.inf, dtype=np.float32)
        fb_ids[0, : top_ids.size], fb_scores[0, : top_ids.size] = top_ids, top_scores
        parts.append((user_ids[~known], np.repeat(fb_ids, n_unknown, 0),
                      np.repeat(fb_scores, n_unknown, 0)))
        log.warning("%d of %d users unknown to the model: served popular titles",
                    n_unknown, user_ids.size)
    frames = []
    for users, ids, scores in parts:
        frames.append(pl.DataFrame({
            "user_id": np.repeat(users, k), "rank": np.tile(np.arange(1, k + 1), users.size),
            "movie_id": ids.ravel(), "score": scores.ravel(),
        }).filter(pl.col("movie_id") >= 0))
    order = pl.DataFrame({"user_id": user_ids, "_order": np.arange(user_ids.size)})
    result = pl.concat(frames).join(order, on="user_id").sort("_order", "rank").drop("_order")
    return result, n_unknown
