"""P(like) and why through the API: like_probability and one score scale on every source,
GET /users/<u>/movies/<m>, and explain=true on both recommendation routes."""

from __future__ import annotations

import math
from urllib.parse import quote

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api import create_app
from reco.ranking.schema import LIKE_FEATURES
from tests.test_api import LEAK, _error

NEW_PERSON = {"ratings": [{"movie_id": m, "rating": r} for m, r in ((1, 5), (2, 4.5), (3, 1))]}
UNKNOWN_MOVIES_ONLY = {"ratings": [{"movie_id": 99_999_999, "rating": 5}]}


@pytest.fixture(scope="module")
def client(trained):  # trained: the session's artifacts (tests/conftest.py), read only
    return create_app({"ARTIFACTS": str(trained), "TESTING": True}).test_client()


@pytest.fixture(scope="module")
def service(client):
    return client.application.extensions["reco"].service


def _sources(client) -> dict[str, dict]:
    return {
        "known": client.get("/recommend/1?k=10").get_json(),
        "unknown user": client.get("/recommend/123456?k=10").get_json(),
        "fold-in": client.post("/recommend?k=10", json=NEW_PERSON).get_json(),
        "unknown movies only": client.post("/recommend?k=10", json=UNKNOWN_MOVIES_ONLY).get_json(),
    }


def test_every_source_carries_like_probability_and_a_unit_score(client):
    answers = _sources(client)
    assert [a["fallback"] for a in answers.values()] == [False, True, False, True]
    for source, answer in answers.items():
        items = answer["items"]
        assert len(items) == 10, source
        for item in items:
            assert 0.0 <= item["like_probability"] <= 1.0, source
            assert 0.0 <= item["score"] <= 1.0, source
            assert "explanation" not in item  # off by default
        scores = [item["score"] for item in items]
        assert scores == sorted(scores, reverse=True), source


def test_fallback_scores_are_the_rankers_for_the_average_user(client, service):
    # the same scale as a known user's: the ranker's output, here for the average user,
    # not a count of likes (which used to be 231251.0 beside scores of 0.1-0.7)
    body = client.get("/recommend/123456?k=5").get_json()
    ids = np.array([item["movie_id"] for item in body["items"]])
    model = service.model
    avg = model.average_user_context()
    expected = model.score_context_pairs(avg, np.zeros(ids.size, np.int64), ids)
    np.testing.assert_allclose([i["score"] for i in body["items"]], expected, atol=1e-6)
    _, like = model.like_context_pairs(avg, np.zeros(ids.size, np.int64), ids)
    np.testing.assert_allclose([i["like_probability"] for i in body["items"]], like,
                               atol=1e-4)
    # still the most liked titles, only ordered for the average user
    top, _ = model.stage_.popular.top_allowed(np.ones(len(model.item_map_), bool), 5)
    assert set(ids) == set(model.item_map_.ids[np.asarray(top)])


def test_a_known_users_like_probability_is_the_pairs(client):
    items = client.get("/recommend/1?k=3").get_json()["items"]
    for item in items:
        pair = client.get(f"/users/1/movies/{item['movie_id']}").get_json()
        assert pair["like_probability"] == pytest.approx(item["like_probability"], abs=2e-4)


def test_the_pair_route_answers_the_seed_question(client, service):
    movies, ratings = service.model.stage_.store.known_users([1]).seen(0)
    rated_movie, rating = int(movies[0]), float(ratings[0])
    response = client.get(f"/users/1/movies/{rated_movie}")
    assert response.status_code == 200 and response.headers["X-Model-Version"]
    body = response.get_json()
    assert set(body) == {"user_id", "movie_id", "title", "like_probability",
                         "predicted_rating", "rated", "rating", "explanation",
                         "model_version"}
    assert body["user_id"] == 1 and body["movie_id"] == rated_movie
    assert body["rated"] is True and body["rating"] == rating
    low, high = service.rating_scale
    assert low <= body["predicted_rating"] <= high
    assert 0.0 <= body["like_probability"] <= 1.0
    # P(like) is the like model's for that pair
    expected = service.model.predict_like(np.array([1]), np.array([rated_movie]))[0]
    assert body["like_probability"] == pytest.approx(float(expected), abs=2e-4)
    unrated = next(int(m) for m in service.model.item_map_.ids if m not in set(movies))
    other = client.get(f"/users/1/movies/{unrated}").get_json()
    assert other["rated"] is False and other["rating"] is None


def test_the_explanation_lists_the_largest_contributions_in_words(client):
    body = client.get("/users/1/movies/5").get_json()
    reasons = body["explanation"]
    assert 1 <= len(reasons) <= 5
    sizes = [abs(r["contribution"]) for r in reasons]
    assert sizes == sorted(sizes, reverse=True) and all(s > 0 for s in sizes)
    for reason in reasons:
        assert reason["feature"] in LIKE_FEATURES
        assert reason["text"] and "{" not in reason["text"]
        assert reason["value"] is None or math.isfinite(reason["value"])


def test_explain_adds_an_explanation_to_every_item_of_both_routes(client):
    for body in (client.get("/recommend/1?k=4&explain=true").get_json(),
                 client.get("/recommend/123456?k=4&explain=1").get_json(),
                 client.post("/recommend?k=4&explain=true", json=NEW_PERSON).get_json()):
        assert len(body["items"]) == 4
        for item in body["items"]:
            assert item["explanation"] and all(r["feature"] in LIKE_FEATURES
                                               for r in item["explanation"])
    plain = client.get("/recommend/1?k=4").get_json()["items"]
    explained = client.get("/recommend/1?k=4&explain=true").get_json()["items"]
    assert [{k: v for k, v in i.items() if k != "explanation"} for i in explained] == plain


@pytest.mark.parametrize("url,status", [
    ("/users/123456/movies/1", 404), ("/users/1/movies/99999999", 404),
    ("/users/x/movies/1", 400), ("/users/1/movies/01", 400), ("/users/1/movies/-1", 400),
    ("/users/1/movies/2147483648", 400), ("/recommend/1?explain=maybe", 400),
])
def test_the_pair_route_validates_like_the_others(client, url, status):
    response = client.get(url)
    _error(response, status)
    assert not LEAK.search(response.get_data(as_text=True))


_segment = st.one_of(st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
                    st.integers(-10**12, 10**12).map(str))


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_segment, _segment)
def test_fuzz_the_pair_route_never_answers_5xx(client, user, movie):
    response = client.get(f"/users/{quote(user, safe='')}/movies/{quote(movie, safe='')}")
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    assert response.is_json and not LEAK.search(response.get_data(as_text=True))


def test_an_unknown_user_is_404_not_the_average_user(client):
    # the average user answers only inside a fallback marked as such
    assert "unknown user id 123456" in _error(client.get("/users/123456/movies/1"),
                                              404)["message"]


def test_the_schema_lists_the_route_and_explain(client):
    spec = client.get("/openapi.json").get_json()
    route = spec["paths"]["/users/{user}/movies/{movie}"]["get"]
    assert {"200", "400", "404", "503"} <= set(route["responses"])
    for path, method in (("/recommend/{user}", "get"), ("/recommend", "post")):
        names = {p["name"] for p in spec["paths"][path][method]["parameters"]}
        assert "explain" in names
    item = spec["components"]["schemas"]["Item"]["properties"]
    assert item["score"]["maximum"] == item["like_probability"]["maximum"] == 1


@pytest.mark.slow  # trains on ml-latest-small (about 10 s)
def test_on_ml_latest_small_every_answer_is_on_one_scale(ml_latest_small, tmp_path):
    from reco.pipelines import train as training
    from tests.ranking.test_hybrid import SMALL

    training.train(ml_latest_small, tmp_path, config=SMALL)
    client = create_app({"ARTIFACTS": str(tmp_path), "TESTING": True}).test_client()
    answers = _sources(client)
    for source, answer in answers.items():
        assert len(answer["items"]) == 10, source
        assert all(0 <= i["score"] <= 1 and 0 <= i["like_probability"] <= 1
                   for i in answer["items"]), source
    # user 1 rated Toy Story (movie 1) 4.0 in ml-latest-small's ratings.csv
    pair = client.get("/users/1/movies/1?").get_json()
    assert pair["rated"] is True and pair["rating"] == 4.0
    assert pair["title"].startswith("Toy Story") and pair["explanation"]
    explained = client.get("/recommend/1?k=10&explain=true").get_json()["items"]
    texts = [r["text"] for item in explained for r in item["explanation"]]
    assert texts and not any("{" in t for t in texts)
