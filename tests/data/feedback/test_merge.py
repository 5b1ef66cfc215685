"""Stored ratings added to a release's (the newest timestamp wins), and training on them:
``train(..., feedback=URL)`` publishes a version that serves the stored ratings."""

from __future__ import annotations

import polars as pl
import pytest

from reco.columns import MOVIE_ID, RATING, RATINGS_SCHEMA, TIMESTAMP, USER_ID
from reco.data.feedback import StoredRating, open_store
from reco.data.feedback.merge import merge_stored
from reco.data.synthetic import SyntheticConfig, make_release
from reco.pipelines import train as training
from scripts import train as train_script
from tests.ranking.test_hybrid import SMALL


def _release() -> pl.DataFrame:
    return pl.DataFrame({USER_ID: [1, 1, 2], MOVIE_ID: [10, 11, 10], RATING: [4.0, 2.0, 3.0],
                         TIMESTAMP: [100, 100, 100]}, schema=RATINGS_SCHEMA)


def test_the_newest_timestamp_wins_and_new_people_become_users():
    stored = [StoredRating(1, 10, 1.0, 200, 0.0),   # newer: replaces the release's 4.0
              StoredRating(1, 11, 5.0, 50, 0.0),    # older: the release's 2.0 stays
              StoredRating(2, 10, 5.0, 100, 0.0),   # a tie: the stored one (given later)
              StoredRating(9, 12, 4.5, 300, 0.0),   # a new person
              StoredRating(9, 999, 4.5, 300, 0.0)]  # a movie the release does not list
    merged, counts = merge_stored(_release(), pl.Series([10, 11, 12]), stored)
    got = {(u, m): r for u, m, r, _ in merged.iter_rows()}
    assert got == {(1, 10): 1.0, (1, 11): 2.0, (2, 10): 5.0, (9, 12): 4.5}
    assert merged.schema == RATINGS_SCHEMA
    assert counts == {"release": 1, "feedback": 3, "feedback_replaced_release": 2,
                      "feedback_older_than_release": 1, "feedback_unknown_movies": 1,
                      "feedback_new_users": 1}


def test_nothing_stored_changes_nothing():
    merged, counts = merge_stored(_release(), pl.Series([10, 11]), [])
    assert merged.sort([USER_ID, MOVIE_ID]).equals(_release().sort([USER_ID, MOVIE_ID]))
    assert counts["feedback"] == 0 and counts["release"] == 3


@pytest.mark.slow  # one small training run (~15 s)
def test_train_with_feedback_serves_the_new_people(tmp_path):
    release = tmp_path / "release"
    make_release(SyntheticConfig(n_users=200, n_movies=250, n_ratings=12_000, seed=9), release)
    url = str(tmp_path / "feedback.sqlite3")
    store = open_store(url)
    movies = pl.read_csv(release / "movies.csv")["movieId"].to_list()
    new_user = store.allocate_user(10_000)
    store.put_ratings(new_user, movies[:30], [5.0] * 30, [2_000_000_000] * 30)
    manifest = training.train(release, tmp_path / "store", config=SMALL, feedback=url)
    counts = manifest["row_counts"]["ratings_by_source"]
    assert counts["feedback"] == 30 and counts["feedback_new_users"] == 1
    assert manifest["row_counts"]["ratings"] == counts["release"] + 30
    from reco.serving.service import RecoService

    service = RecoService.load(tmp_path / "store")
    assert new_user in service.model.user_map_  # a user of the new version
    assert service.recommend(new_user, 5)["fallback"] is False


def test_train_script_checks_the_feedback_url(capsys):
    with pytest.raises(SystemExit) as exit_:
        train_script.parse_args(["--feedback", "mysql://db/x"])
    assert exit_.value.code == 2 and "unknown feedback store scheme" in capsys.readouterr().err
    assert train_script.parse_args(["--feedback", "f.sqlite3"]).feedback == "f.sqlite3"
