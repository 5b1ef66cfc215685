"""Stored ratings added to a release's for training (``scripts/train.py --feedback URL``).

The newest timestamp wins per (user, movie), as the loader keeps the newest line of a
release and the store keeps the newest rating: a stored rating replaces the release's
rating of the same movie when it is at least as new. A stored rating of a movie the
release does not list is dropped (the model has no features for it) and counted. New
people simply become users: their ids were handed out above every trained user's.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from reco.columns import MOVIE_ID, RATING, RATINGS_SCHEMA, TIMESTAMP, USER_ID
from reco.data.feedback._base import StoredRating

_SOURCE = "_source"


def merge_stored(ratings: pl.DataFrame, movies: pl.Series,
                 stored: Sequence[StoredRating]) -> tuple[pl.DataFrame, dict[str, int]]:
    """``ratings`` (canonical, :data:`reco.columns.RATINGS_SCHEMA`) with ``stored`` added;
    and what came from where, for the manifest: ``release`` and ``feedback`` ratings in
    the result, ``feedback_replaced_release`` (stored ratings that replaced a release
    rating), ``feedback_older_than_release`` (stored ratings a newer release one beat),
    ``feedback_unknown_movies`` (dropped), ``feedback_new_users`` (users only the store
    knows)."""
    frame = pl.DataFrame({USER_ID: [r.user_id for r in stored],
                          MOVIE_ID: [r.movie_id for r in stored],
                          RATING: [r.rating for r in stored],
                          TIMESTAMP: [r.timestamp for r in stored]},
                         schema=RATINGS_SCHEMA)
    known = frame[MOVIE_ID].is_in(movies.cast(pl.Int32).implode())
    unknown = int((~known).sum())
    frame = frame.filter(known)
    release = ratings.select(RATINGS_SCHEMA.names()).cast(RATINGS_SCHEMA)
    both = pl.concat([release.with_columns(pl.lit(0).alias(_SOURCE)),
                      frame.with_columns(pl.lit(1).alias(_SOURCE))])
    # newest timestamp first; on a tie the stored rating (it was given after the release)
    merged = (both.sort([TIMESTAMP, _SOURCE], descending=True)
              .unique([USER_ID, MOVIE_ID], keep="first", maintain_order=True))
    overlap = frame.join(ratings.select(USER_ID, MOVIE_ID, TIMESTAMP), on=[USER_ID, MOVIE_ID],
                         how="inner", suffix="_release")
    replaced = int((overlap[TIMESTAMP] >= overlap[f"{TIMESTAMP}_release"]).sum())
    from_store = int((merged[_SOURCE] == 1).sum())
    release_users = ratings[USER_ID].unique().implode()
    counts = {
        "release": merged.height - from_store,
        "feedback": from_store,
        "feedback_replaced_release": replaced,
        "feedback_older_than_release": overlap.height - replaced,
        "feedback_unknown_movies": unknown,
        "feedback_new_users": int(frame.filter(~pl.col(USER_ID).is_in(release_users))[USER_ID]
                                  .n_unique()),
    }
    out = merged.drop(_SOURCE).sort([USER_ID, TIMESTAMP, MOVIE_ID])
    return out, counts
