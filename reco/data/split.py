"""The evaluation splits of ``shared/EVALUATION.md`` (reco-eval v1).

:func:`per_user_split` is the headline protocol: each user's last 20% of ratings in time
is test. :func:`global_time_split` is the strict check: one time cut for everyone, so no
rating in train is later than any rating in test. :func:`test_period` and
:func:`tags_before_label_window` cut side data (tags) at the same point, so that nothing a
model sees was applied after the ratings it is judged on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from reco.columns import MOVIE_ID, RATING, TIMESTAMP, USER_ID

PROTOCOL = "reco-eval v1"
MIN_USER_RATINGS = 5
TEST_FRACTION = 0.2
LIKE_THRESHOLD = 3.5

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Split:
    """A train/test partition of the ratings (canonical columns).

    ``period``: every rating of the test period, the rows ``test`` drops for movies
    unseen in train included (what side tables are cut at; :func:`test_period`), when
    the split function knows it.
    """

    train: pl.DataFrame
    test: pl.DataFrame
    kind: str
    period: pl.DataFrame | None = field(default=None, repr=False, compare=False)

    def summary(self) -> dict[str, int | str]:
        return {
            "protocol": PROTOCOL,
            "kind": self.kind,
            "train_ratings": self.train.height,
            "test_ratings": self.test.height,
            "train_users": int(self.train[USER_ID].n_unique()),
            "test_users": int(self.test[USER_ID].n_unique()),
            "ranked_users": int(
                self.test.filter(pl.col(RATING) >= LIKE_THRESHOLD)[USER_ID].n_unique()
            ),
            "train_movies": int(self.train[MOVIE_ID].n_unique()),
        }


def n_test_ratings(n: np.ndarray) -> np.ndarray:
    """How many of a user's ``n`` ratings are test: ``max(1, rint(0.2 n))``, 0 when n < 5.

    ``np.rint`` rounds half to even, as the protocol says.
    """
    n = np.asarray(n, dtype=np.int64)
    held = np.maximum(1, np.rint(TEST_FRACTION * n)).astype(np.int64)
    return np.where(n >= MIN_USER_RATINGS, held, 0)


def _drop_unseen_movies(train: pl.DataFrame, test: pl.DataFrame) -> pl.DataFrame:
    return test.filter(pl.col(MOVIE_ID).is_in(train[MOVIE_ID].unique().implode()))


def per_user_split(ratings: pl.DataFrame) -> Split:
    """Each user's last ``max(1, rint(0.2 n))`` ratings by (timestamp, movie_id) are test.

    Users with fewer than 5 ratings are train only; test rows of movies absent from
    train are dropped. Row order: both parts sorted by user, timestamp, movie.
    """
    ordered = ratings.sort(USER_ID, TIMESTAMP, MOVIE_ID)
    counts = ordered.group_by(USER_ID, maintain_order=True).len("_n")
    counts = counts.with_columns(
        pl.Series("_n_test", n_test_ratings(counts["_n"].to_numpy()), dtype=pl.Int64)
    )
    position = pl.int_range(pl.len()).over(USER_ID)
    ranked = ordered.with_columns(position.alias("_pos")).join(
        counts, on=USER_ID, how="left", maintain_order="left"
    )
    is_test = pl.col("_pos") >= pl.col("_n") - pl.col("_n_test")
    helper = ["_pos", "_n", "_n_test"]
    train = ranked.filter(~is_test).drop(helper)
    # the whole test period, kept: the side tables are cut at it (an anti-join of all the
    # ratings against train took 21-30 s at 32M ratings)
    period = ranked.filter(is_test).drop(helper)
    return Split(train=train, test=_drop_unseen_movies(train, period), kind="per_user",
                 period=period)


def held_out(ratings: pl.DataFrame, train: pl.DataFrame) -> pl.DataFrame:
    """The ratings of ``ratings`` that are not in ``train``: a split's whole test period,
    including the rows :func:`per_user_split` drops for movies unseen in train (what a
    side table such as tags must be cut at, since those ratings happened too)."""
    return ratings.join(train.select(USER_ID, MOVIE_ID, TIMESTAMP),
                        on=[USER_ID, MOVIE_ID, TIMESTAMP], how="anti")


def test_period(split: Split, ratings: pl.DataFrame) -> pl.DataFrame:
    """``split``'s whole test period (:attr:`Split.period`), or the ratings of ``ratings``
    not in its train part when the split does not carry it (:func:`held_out`)."""
    return split.period if split.period is not None else held_out(ratings, split.train)


def global_time_split(ratings: pl.DataFrame, quantile: float = 0.8) -> Split:
    """Train = ratings before T, the ``quantile`` of all timestamps (lower).

    Test = ratings at or after T by users with at least 5 train ratings, on movies
    seen in train.
    """
    cut = int(ratings.select(pl.col(TIMESTAMP).quantile(quantile, "lower")).item())
    ordered = ratings.sort(USER_ID, TIMESTAMP, MOVIE_ID)
    train = ordered.filter(pl.col(TIMESTAMP) < cut)
    active = train.group_by(USER_ID).len().filter(pl.col("len") >= MIN_USER_RATINGS)
    period = ordered.filter(pl.col(TIMESTAMP) >= cut)
    test = period.filter(pl.col(USER_ID).is_in(active[USER_ID].implode()))
    return Split(train=train, test=_drop_unseen_movies(train, test), kind="global_time",
                 period=period)


def tags_before_label_window(tags: pl.DataFrame | None,
                             label_window: pl.DataFrame) -> pl.DataFrame | None:
    """Each user's tags dated before that user's first label-window rating; every tag
    of a user without a label window. Strictly before: a tag applied in the same second
    as the first label rating may describe it.

    Raises
    ------
    ValueError
        ``tags`` lacks ``user_id`` or ``timestamp``, so it cannot be cut.
    """
    if tags is None or tags.is_empty():
        return tags
    missing = [c for c in (USER_ID, TIMESTAMP) if c not in tags.columns]
    if missing:
        raise ValueError(f"tags need {missing} to be cut at the label window; has {tags.columns}")
    cut = label_window.group_by(USER_ID).agg(pl.col(TIMESTAMP).min().alias("_cut"))
    kept = tags.join(cut, on=USER_ID, how="left", maintain_order="left").filter(
        pl.col("_cut").is_null() | (pl.col(TIMESTAMP) < pl.col("_cut"))
    ).drop("_cut")
    if kept.height < tags.height:
        log.info("feature window: %d of %d tags were applied in a label window; left out",
                 tags.height - kept.height, tags.height)
    return kept
