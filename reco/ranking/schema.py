"""The feature rows' names and order, in one place that imports nothing.

``LIKE_FEATURES`` (the like/dislike model) and ``RANK_FEATURES`` (the candidate ranker)
fix the column order of :func:`reco.ranking.pair_features.pair_features`; both are written
into the manifest and checked at load. They live apart from the code that computes them
so the array store, the candidate generator and the row builder can all read them without
importing one another.
"""

from __future__ import annotations

#: The candidate sources of stage one, in the order their rank columns appear.
SOURCES = ("cf", "content", "popular", "item")


def rank_column(source: str) -> str:
    """The feature holding the rank ``source`` gave a candidate (NaN: not proposed)."""
    return f"rank_in_{source}"


#: ``rank_in_<source>`` for every source, in ``SOURCES`` order.
RANK_COLUMNS: tuple[str, ...] = tuple(rank_column(s) for s in SOURCES)

# Columns of the feature tables (reco.features.tables), taken as they are.
USER_COLUMNS = ("n_ratings", "rating_mean", "rating_std", "like_rate", "active_days", "n_genres")
MOVIE_COLUMNS = (
    "n_ratings", "rating_mean", "rating_std", "like_rate", "bayes_mean", "popularity",
    "recent_popularity", "year", "n_genres",
)
GENRE_COLUMNS = ("ug_like_rate", "ug_deviation", "ug_share_max", "ug_share_sum", "ug_known")
MODEL_COLUMNS = ("cf_score", "rating_pred", "rating_pred_dev", "content_sim", "item_score",
                 "knn_rating_dev")
# What was popular, and what resembles the user's latest movies, at the user's last activity.
CONTEXT_COLUMNS = ("m_share_3m_at_user", "m_share_12m_at_user", "m_seen_share_at_user",
                   "cf_recent_sim", "content_recent_sim", "item_recent_score")
RECENT_MONTHS = (3, 12)
LIKE_FEATURES: tuple[str, ...] = (
    tuple(f"u_{c}" for c in USER_COLUMNS)
    + tuple(f"m_{c}" for c in MOVIE_COLUMNS)
    + GENRE_COLUMNS
    + MODEL_COLUMNS
    + CONTEXT_COLUMNS
    + ("movie_age",)
)
# cf_score_rank (the CF score's rank among the user's candidates) only means something for a
# candidate list, so it feeds the ranker but not P(like) of arbitrary pairs.
RANK_FEATURES: tuple[str, ...] = LIKE_FEATURES + ("cf_score_rank",) + RANK_COLUMNS
