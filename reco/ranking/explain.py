"""Why the like model gave a pair its P(like): per-feature contributions as short phrases.

XGBoost splits a prediction exactly into one contribution per feature plus a bias
(TreeSHAP, ``pred_contribs=True``): on the log-odds scale, ``bias + sum(contributions) =
logit(P(like))``. :func:`contributions` computes them; :func:`explain` keeps the features
that moved a row's prediction most and words each with :data:`PHRASES`, the one table of
templates, keyed by feature name. Every feature of the ranking schema (``RANK_FEATURES``,
which holds ``LIKE_FEATURES``) has an entry; ``tests/ranking/test_explain.py`` checks it.

A template is filled with the feature's value (``{value}``, ``{pct}`` = 100 x value,
``{abs}`` = its size, ``{side}`` = "above" / "below" by its sign and ``{stars}`` = the
value kept inside the rating scale, as a predicted rating is shown) and with the words a
caller knows and the model does not: ``{genres}`` (the movie's genres) and ``{liked}``
(the title the user liked that is closest to the movie). The phrase describes the value;
the sign of the contribution says whether it raised or lowered P(like). Where the two
directions read differently ("liked by people who liked Fargo" against "not what people
who liked Fargo tend to like") the entry has one template per direction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import xgboost as xgb

#: How many features an explanation lists by default (the largest contributions).
TOP = 5
#: What the placeholders say when the caller has nothing better.
DEFAULT_WORDS = {"genres": "its genres", "liked": "what you liked"}
#: MovieLens's rating scale, the default ``{stars}`` are kept inside.
RATING_SCALE = (0.5, 5.0)


@dataclass(frozen=True)
class Phrase:
    """How one feature is worded: ``up`` when it raised P(like), ``down`` when it lowered
    it (``up`` for both when ``down`` is empty), ``what`` when the value is unknown."""

    what: str
    up: str
    down: str = ""

    def text(self, contribution: float) -> str:
        return self.up if contribution >= 0 or not self.down else self.down


#: One phrase per feature of reco.ranking.schema, keyed by the feature's name.
PHRASES: dict[str, Phrase] = {
    # the user's own table row
    "u_n_ratings": Phrase("how many movies you rated", "you have rated {value:,.0f} movies"),
    "u_rating_mean": Phrase("your average rating", "you rate {value:.1f} stars on average"),
    "u_rating_std": Phrase("how widely your ratings spread",
                           "your ratings spread {value:.1f} stars around your average"),
    "u_like_rate": Phrase("how often you like what you rate",
                          "you like {pct:.0f}% of what you rate"),
    "u_active_days": Phrase("how long you have been rating",
                            "you have rated movies over {value:,.0f} days"),
    "u_n_genres": Phrase("how many genres you rated", "you have rated {value:.0f} genres"),
    # the movie's table row
    "m_n_ratings": Phrase("how many people rated it", "rated by {value:,.0f} people"),
    "m_rating_mean": Phrase("its average rating", "rated {value:.1f} stars on average"),
    "m_rating_std": Phrase("how much people disagree on it",
                           "its ratings spread {value:.1f} stars"),
    "m_like_rate": Phrase("how many of its raters liked it",
                          "liked by {pct:.0f}% of the people who rated it"),
    "m_bayes_mean": Phrase("its rating", "rated {value:.2f} stars, weighted by how many rated it"),
    "m_popularity": Phrase("how popular it is", "popular: rated by {pct:.1f}% of all users",
                           "rated by {pct:.1f}% of all users"),
    "m_recent_popularity": Phrase(
        "how popular it is this year",
        "popular this year: rated by {pct:.1f}% of the users active in the last year",
        "rated by {pct:.1f}% of the users active in the last year"),
    "m_year": Phrase("its release year", "released in {value:.0f}"),
    "m_n_genres": Phrase("its genres", "it has {value:.0f} genres"),
    # the user's taste for the movie's genres (means over the genres the user rated)
    "ug_like_rate": Phrase("your taste for {genres}",
                           "you like {pct:.0f}% of the {genres} movies you rate"),
    "ug_deviation": Phrase("your taste for {genres}",
                           "you rate {genres} {abs:.1f} {side} your average"),
    "ug_share_max": Phrase("how much {genres} you watch",
                           "{pct:.0f}% of your ratings are in its most rated genre for you"),
    "ug_share_sum": Phrase("how much {genres} you watch",
                           "its genres ({genres}) take {pct:.0f}% of your ratings"),
    "ug_known": Phrase("which of its genres you rated",
                       "you have rated {value:.0f} of its genres"),
    # the stage-one models
    "cf_score": Phrase("what people with your taste like", "liked by people who liked {liked}",
                       "not what people who liked {liked} tend to like"),
    "rating_pred": Phrase("the rating we expect from you",
                          "we expect you to rate it {stars:.1f} stars"),
    "rating_pred_dev": Phrase("the rating we expect from you",
                              "we expect you to rate it {abs:.1f} {side} your average"),
    "content_sim": Phrase("its likeness to what you rated",
                          "close to movies you rated highly",
                          "unlike the movies you rated highly"),
    "knn_rating_dev": Phrase("how you rated the movies most like it",
                             "you rated the movies most like it {abs:.1f} {side} your average"),
    "item_score": Phrase("how often it is liked with the movies you liked",
                         "liked together with movies you liked",
                         "rarely liked together with movies you liked"),
    # what was popular, and what resembles the latest movies, at the user's last activity
    "m_share_3m_at_user": Phrase(
        "how much it was watched around your latest ratings",
        "popular around your latest ratings ({pct:.2f}% of all ratings in the 3 months "
        "before them)",
        "{pct:.2f}% of all ratings in the 3 months before your latest went to it"),
    "m_share_12m_at_user": Phrase(
        "how much it was watched in the year before your latest ratings",
        "popular in the year before your latest ratings ({pct:.2f}% of all ratings then)",
        "{pct:.2f}% of all ratings in the year before your latest went to it"),
    "m_seen_share_at_user": Phrase("whether it was out at your latest ratings",
                                   "{pct:.0f}% of its ratings came before your latest rating"),
    "cf_recent_sim": Phrase("its likeness to your latest movies",
                            "liked by the people who liked your latest movies",
                            "unlike the movies you rated most recently"),
    "content_recent_sim": Phrase("its likeness to your latest movies",
                                 "close in content to the movies you rated most recently",
                                 "far in content from the movies you rated most recently"),
    "item_recent_score": Phrase("how often it is liked with your latest movies",
                                "liked together with the movies you rated most recently",
                                "rarely liked together with the movies you rated most "
                                "recently"),
    "movie_age": Phrase("its age", "{value:.0f} years old at your latest rating"),
    # ranker-only features (a candidate list's ranks): worded for completeness
    "cf_score_rank": Phrase("its place among your candidates",
                            "number {value:.0f} among your candidates by taste"),
    "rank_in_cf": Phrase("its place in your taste list",
                         "number {value:.0f} for you by what people with your taste like"),
    "rank_in_content": Phrase("its place in your content list",
                              "number {value:.0f} for you by content"),
    "rank_in_popular": Phrase("its place among the most liked",
                              "number {value:.0f} among the most liked movies you have not rated"),
    "rank_in_item": Phrase("its place in your liked-together list",
                           "number {value:.0f} for you among movies liked with yours"),
}


@dataclass(frozen=True)
class Reason:
    """One line of an explanation: a feature, its value (None: unknown), its signed
    contribution to the log-odds of P(like), and the phrase."""

    feature: str
    value: float | None
    contribution: float
    text: str

    def as_dict(self) -> dict[str, object]:
        return {"feature": self.feature, "text": self.text,
                "contribution": round(self.contribution, 4),
                "value": None if self.value is None else round(self.value, 4)}


def contributions(booster: xgb.Booster, features: np.ndarray,
                  feature_names: tuple[str, ...]) -> np.ndarray:
    """Per-row contributions, ``(n, len(feature_names) + 1)``: one column per feature, then
    the bias; a row sums to the booster's margin (log-odds for ``binary:logistic``).

    A DMatrix is built here (``inplace_predict`` has no ``pred_contribs``); the names are
    checked against the booster's as :func:`reco.ranking.booster.predict` does.
    """
    if booster.feature_names is not None and tuple(booster.feature_names) != tuple(feature_names):
        raise ValueError(f"features {list(feature_names)} differ from the booster's "
                         f"{booster.feature_names}")
    if features.shape[0] == 0:
        return np.empty((0, len(feature_names) + 1), dtype=np.float32)
    matrix = xgb.DMatrix(np.ascontiguousarray(features, dtype=np.float32),
                         feature_names=list(feature_names), missing=np.nan)
    return np.asarray(booster.predict(matrix, pred_contribs=True, validate_features=False),
                      dtype=np.float32)


def phrase(feature: str, value: float | None, contribution: float,
           words: Mapping[str, str] | None = None,
           rating_scale: tuple[float, float] = RATING_SCALE) -> str:
    """The words for one feature's value and contribution (see the module docstring)."""
    entry = PHRASES[feature]
    filled = {**DEFAULT_WORDS, **(words or {})}
    if value is None or not math.isfinite(value):
        return f"{entry.what.format_map(filled)}: not known"
    filled_values: dict[str, object] = {
        **filled, "value": value, "pct": 100.0 * value, "abs": abs(value),
        "side": "above" if value >= 0 else "below",
        "stars": min(max(value, rating_scale[0]), rating_scale[1])}
    return entry.text(contribution).format_map(filled_values)


def explain(values: np.ndarray, row_contributions: np.ndarray, feature_names: tuple[str, ...],
            words: Mapping[str, str] | None = None, top: int = TOP,
            rating_scale: tuple[float, float] = RATING_SCALE) -> list[Reason]:
    """The ``top`` features that moved one row's prediction most, largest first.

    ``values`` is the row's features, ``row_contributions`` its :func:`contributions` row
    (the bias column may be included; it is not a feature and is never listed). Features
    that contributed exactly nothing are left out.
    """
    size = len(feature_names)
    found = np.asarray(row_contributions, dtype=np.float64)[:size]
    # largest |contribution| first; ties keep the schema's order
    order = np.argsort(-np.abs(found), kind="stable")
    reasons = []
    for j in order[:top]:
        if found[j] == 0.0:
            break
        raw = float(values[j])
        value = raw if math.isfinite(raw) else None
        name = feature_names[j]
        reasons.append(Reason(name, value, float(found[j]),
                              phrase(name, value, float(found[j]), words, rating_scale)))
    return reasons
