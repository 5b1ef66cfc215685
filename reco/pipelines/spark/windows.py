"""The label-window cut of :func:`reco.data.split.per_user_split`, as one Spark job.

For each user with at least ``MIN_USER_RATINGS`` (5) ratings, the last
``max(1, rint(0.2 n))`` by ``(timestamp, movie_id)`` are the label window. ``bround``
rounds half to even like ``np.rint``; ``0.2 n`` is never exactly half an integer for an
integer ``n``, so the two agree on every count anyway. Label rows of movies the feature
window does not hold are left out of the labels (as the split drops them) but still
count as the user's label period, which is where their tags are cut
(:func:`reco.data.split.held_out`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reco.columns import MOVIE_ID, TIMESTAMP, USER_ID
from reco.data.split import MIN_USER_RATINGS, TEST_FRACTION

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

#: The ``window`` column: feature window, label window, label period of an unseen movie.
FEATURE, LABEL, UNSEEN = 0, 1, 2
WINDOW = "window"


def mark_windows(ratings: DataFrame) -> DataFrame:
    """``ratings`` with a ``window`` column (:data:`FEATURE`, :data:`LABEL`, :data:`UNSEEN`)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    order = Window.partitionBy(USER_ID).orderBy(TIMESTAMP, MOVIE_ID)
    position = F.row_number().over(order) - 1
    n = F.count(F.lit(1)).over(Window.partitionBy(USER_ID))
    n_label = F.when(n >= MIN_USER_RATINGS,
                     F.greatest(F.lit(1), F.bround(n * TEST_FRACTION, 0).cast("long")))
    is_label = F.col("_pos") >= F.col("_n") - F.coalesce(F.col("_n_label"), F.lit(0))
    marked = (ratings.withColumn("_pos", position).withColumn("_n", n)
              .withColumn("_n_label", n_label)
              .withColumn("_label", is_label).drop("_pos", "_n", "_n_label"))
    seen = marked.where(~F.col("_label")).select(MOVIE_ID).distinct().withColumn("_seen",
                                                                                  F.lit(True))
    return (marked.join(seen, on=MOVIE_ID, how="left")
            .withColumn(WINDOW, F.when(~F.col("_label"), FEATURE)
                        .when(F.col("_seen").isNotNull(), LABEL).otherwise(UNSEEN)
                        .cast("byte"))
            .drop("_label", "_seen"))
