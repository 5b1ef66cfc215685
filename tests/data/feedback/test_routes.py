"""The feedback routes of api.py through Flask's test client (a SQLite store per module;
the store's own contract on both backends is tests/data/feedback/test_store.py)."""

from __future__ import annotations

import sqlite3

import pytest

from api import create_app


@pytest.fixture(scope="module")
def app(trained, tmp_path_factory):
    store = tmp_path_factory.mktemp("feedback") / "feedback.sqlite3"
    return create_app({"ARTIFACTS": str(trained), "TESTING": True, "FEEDBACK": str(store)})


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def service(app):
    return app.extensions["reco"].service


@pytest.fixture
def new_user(client) -> int:
    response = client.post("/users")
    assert response.status_code == 201
    return response.get_json()["user_id"]


def _known_movies(service, n: int) -> list[int]:
    return [int(m) for m in service.model.item_map_.ids[:n]]


def _error(response, status: int) -> dict:
    assert response.status_code == status and response.is_json, response.get_data(True)
    body = response.get_json()["error"]
    assert body["status"] == status and body["message"]
    return body


def _post(client, user: int, ratings: list[dict]):
    return client.post(f"/users/{user}/ratings", json={"ratings": ratings})


def test_new_ids_are_above_every_trained_user_and_never_repeat(client, service):
    ids = [client.post("/users").get_json()["user_id"] for _ in range(5)]
    assert min(ids) > int(service.model.user_map_.ids.max())
    assert len(set(ids)) == 5 and ids == sorted(ids)


def test_a_new_user_with_one_stored_rating_gets_personal_recommendations(client, service,
                                                                         new_user):
    before = client.get(f"/recommend/{new_user}?k=5").get_json()
    assert before["fallback"] is True and before["stored_ratings"] == 0
    movies = _known_movies(service, 3)
    response = _post(client, new_user, [{"movie_id": movies[0], "rating": 5}])
    assert response.status_code == 201
    assert response.get_json() == {"stored": 1, "ignored_unknown_movies": [],
                                   "ignored_older": []}
    after = client.get(f"/recommend/{new_user}?k=5").get_json()
    assert after["fallback"] is False and after["user"] == new_user
    assert after["stored_ratings"] == 1 and len(after["items"]) == 5
    assert movies[0] not in {i["movie_id"] for i in after["items"]}


def test_stored_ratings_change_a_known_users_list_at_once(client, service):
    user = int(service.model.user_map_.ids[3])
    before = [i["movie_id"] for i in client.get(f"/recommend/{user}?k=10").get_json()["items"]]
    # they rate the first five they were shown: those leave the list, others come in
    _post(client, user, [{"movie_id": m, "rating": 0.5} for m in before[:5]])
    body = client.get(f"/recommend/{user}?k=10").get_json()
    after = [i["movie_id"] for i in body["items"]]
    assert body["fallback"] is False and body["stored_ratings"] == 5 and len(after) == 10
    assert not set(after) & set(before[:5])


def test_the_ratings_list_marks_each_source(client, service):
    user = int(service.model.user_map_.ids[5])
    trained_movies, _ = service.training_ratings(user)
    listed = client.get(f"/users/{user}/ratings").get_json()
    assert listed["user_id"] == user
    assert {r["source"] for r in listed["ratings"]} == {"training"}
    assert len(listed["ratings"]) == len(trained_movies)
    first = int(trained_movies[0])
    _post(client, user, [{"movie_id": first, "rating": 1.5, "timestamp": 1_700_000_000}])
    listed = client.get(f"/users/{user}/ratings").get_json()["ratings"]
    mine = [r for r in listed if r["movie_id"] == first]
    assert mine == [{"movie_id": first, "rating": 1.5, "timestamp": 1_700_000_000,
                     "source": "stored"}]  # the stored rating replaces the training one
    assert len(listed) == len(trained_movies)


def test_delete_removes_a_stored_rating_and_404s_otherwise(client, service, new_user):
    movie = _known_movies(service, 1)[0]
    _post(client, new_user, [{"movie_id": movie, "rating": 4}])
    response = client.delete(f"/users/{new_user}/ratings/{movie}")
    assert response.status_code == 204 and response.get_data() == b""
    assert client.get(f"/users/{new_user}/ratings").get_json()["ratings"] == []
    _error(client.delete(f"/users/{new_user}/ratings/{movie}"), 404)


def test_unknown_movies_are_listed_not_stored(client, service, new_user):
    movie = _known_movies(service, 1)[0]
    response = _post(client, new_user, [{"movie_id": movie, "rating": 4},
                                        {"movie_id": 2_000_000_000, "rating": 3}])
    assert response.status_code == 201
    assert response.get_json()["stored"] == 1
    assert response.get_json()["ignored_unknown_movies"] == [2_000_000_000]
    stored = client.get(f"/users/{new_user}/ratings").get_json()["ratings"]
    assert [r["movie_id"] for r in stored] == [movie]


@pytest.mark.parametrize("rating", [0, 5.5, 4.7, 0.25, -1, "4", None, True, 1e309])
def test_ratings_off_the_scale_or_grid_are_refused_and_nothing_is_stored(client, service,
                                                                        new_user, rating):
    movie = _known_movies(service, 2)
    body = {"ratings": [{"movie_id": movie[0], "rating": 4}, {"movie_id": movie[1],
                                                              "rating": rating}]}
    _error(client.post(f"/users/{new_user}/ratings", json=body), 400)
    assert client.get(f"/users/{new_user}/ratings").get_json()["ratings"] == []


def test_a_movie_twice_in_one_body_keeps_the_newest_timestamp(client, service, new_user):
    movie = _known_movies(service, 1)[0]
    response = _post(client, new_user, [
        {"movie_id": movie, "rating": 2, "timestamp": 300},
        {"movie_id": movie, "rating": 5, "timestamp": 100}])
    assert response.get_json()["stored"] == 1
    # and an older rating sent later does not replace a newer stored one
    again = _post(client, new_user, [{"movie_id": movie, "rating": 1, "timestamp": 200}])
    assert again.get_json()["stored"] == 0 and again.get_json()["ignored_older"] == [movie]
    [stored] = client.get(f"/users/{new_user}/ratings").get_json()["ratings"]
    assert (stored["rating"], stored["timestamp"]) == (2.0, 300)


@pytest.mark.parametrize("user", ["007", "-1", "+1", "1.0", " 1", "1e3", "\u0661", "2147483648",
                                  "abc"])
def test_user_ids_must_be_canonical(client, user):
    body = {"ratings": [{"movie_id": 1, "rating": 4}]}
    _error(client.post(f"/users/{user}/ratings", json=body), 400)
    _error(client.get(f"/users/{user}/ratings"), 400)
    _error(client.delete(f"/users/{user}/ratings/1"), 400)


@pytest.mark.parametrize("body", [[], {}, "x", {"ratings": []}, {"ratings": [1]},
                                  {"ratings": [{"movie_id": -1, "rating": 4}]},
                                  {"ratings": [{"movie_id": 1, "rating": 4, "timestamp": 1},
                                               {"movie_id": 2, "rating": 4}]}])
def test_malformed_bodies_are_400(client, body, new_user):
    response = client.post(f"/users/{new_user}/ratings", json=body)
    _error(response, 400)


def test_bodies_that_are_not_json_are_refused(client, new_user):
    _error(client.post(f"/users/{new_user}/ratings", data="x"), 415)
    _error(client.post(f"/users/{new_user}/ratings", data="[" * 40,
                       content_type="application/json"), 400)
    _error(client.post(f"/users/{new_user}/ratings", data=b"x" * 200_000,
                       content_type="application/json"), 413)


def test_stats_count_served_lists_followed_by_ratings(client, service, new_user):
    movie = _known_movies(service, 1)[0]
    _post(client, new_user, [{"movie_id": movie, "rating": 4}])
    shown = [i["movie_id"] for i in client.get(f"/recommend/{new_user}?k=5").get_json()["items"]]
    _post(client, new_user, [{"movie_id": shown[0], "rating": 5},
                             {"movie_id": shown[1], "rating": 1}])
    body = client.get("/stats?window=3600&k=5").get_json()
    assert body["window_seconds"] == 3600 and body["like_threshold"] == service.like_threshold
    [version] = body["versions"]
    assert version["version"] == service.version
    assert version["lists"] >= 1 and version["followed"] >= 1
    assert version["ratings_following"] >= 2 and 0 < version["like_rate"] < 1
    assert version["hit_rate_at_k"] > 0 and 0 < version["coverage"] <= 1


@pytest.mark.parametrize("query", ["window=0", "window=x", "k=0", "window=99999999999"])
def test_stats_checks_its_parameters(client, query):
    _error(client.get(f"/stats?{query}"), 400)


def test_new_routes_are_in_the_openapi_description(client):
    spec = client.get("/openapi.json").get_json()
    paths = spec["paths"]
    assert {"post", "get"} <= set(paths["/users/{user}/ratings"])
    assert "delete" in paths["/users/{user}/ratings/{movie}"]
    assert "post" in paths["/users"] and "get" in paths["/stats"]
    grid = spec["components"]["schemas"]["StoredRatings"]["properties"]["ratings"]["oneOf"][0]
    assert grid["items"]["properties"]["rating"]["enum"][:3] == [0.5, 1.0, 1.5]


# ------------------------------------------------------------------ store down
def _down_app(trained, url: str):
    return create_app({"ARTIFACTS": str(trained), "TESTING": True, "FEEDBACK": url})


def _unavailable(response) -> None:
    body = _error(response, 503)
    assert body["name"] == "feedback_unavailable"
    text = response.get_data(as_text=True)
    assert "/tmp" not in text and "sqlite3" not in text.lower() and "Traceback" not in text


def test_an_unreachable_store_answers_503_and_recommendations_go_on(trained, tmp_path):
    client = _down_app(trained, str(tmp_path / "missing" / "f.sqlite3")).test_client()
    _unavailable(client.post("/users/1/ratings", json={"ratings": [{"movie_id": 1,
                                                                     "rating": 4}]}))
    _unavailable(client.get("/users/1/ratings"))
    _unavailable(client.delete("/users/1/ratings/1"))
    _unavailable(client.post("/users"))
    _unavailable(client.get("/stats"))
    body = client.get("/recommend/1?k=3").get_json()  # from the model alone, and it says so
    assert len(body["items"]) == 3 and body["feedback_unavailable"] is True


def test_a_read_only_store_answers_503_for_writes_and_keeps_what_it_had(trained, tmp_path,
                                                                        service):
    path = tmp_path / "f.sqlite3"
    writable = _down_app(trained, str(path)).test_client()
    movie = _known_movies(service, 1)[0]
    user = writable.post("/users").get_json()["user_id"]
    assert _post(writable, user, [{"movie_id": movie, "rating": 4}]).status_code == 201
    client = _down_app(trained, f"sqlite:///{path}?mode=ro").test_client()
    other = _known_movies(service, 2)[1]
    _unavailable(_post(client, user, [{"movie_id": other, "rating": 3}]))
    _unavailable(client.post("/users"))
    assert [r["movie_id"] for r in client.get(f"/users/{user}/ratings").get_json()["ratings"]] \
        == [movie]
    body = client.get(f"/recommend/{user}?k=3").get_json()  # reads work: folded in
    assert body["stored_ratings"] == 1 and "feedback_unavailable" not in body
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM ratings").fetchone() == (1,)


def test_a_disabled_store_answers_503(trained):
    client = _down_app(trained, "none").test_client()
    _unavailable(client.post("/users"))
    assert client.get("/recommend/1?k=2").status_code == 200


def test_exclude_seen_false_with_stored_ratings_lets_them_rank(client, service, new_user):
    movies = _known_movies(service, 5)
    _post(client, new_user, [{"movie_id": m, "rating": 5} for m in movies])
    body = client.get(f"/recommend/{new_user}?k=20&exclude_seen=false").get_json()
    assert body["fallback"] is False and body["stored_ratings"] == 5
    assert len(body["items"]) == 20
    excluded = client.get(f"/recommend/{new_user}?k=20").get_json()["items"]
    assert not {i["movie_id"] for i in excluded} & set(movies)


def test_filters_apply_to_folded_in_lists(client, service, new_user):
    genre = service.genres[0]
    _post(client, new_user, [{"movie_id": _known_movies(service, 1)[0], "rating": 4.5}])
    body = client.get(f"/recommend/{new_user}?k=5&genre={genre}").get_json()
    assert body["fallback"] is False
    assert all(genre in item["genres"] for item in body["items"])


def test_the_pair_route_answers_a_person_only_the_store_knows(client, service, new_user):
    movies = _known_movies(service, 3)
    assert client.get(f"/users/{new_user}/movies/{movies[0]}").status_code == 404
    response = client.post(f"/users/{new_user}/ratings", json={"ratings": [
        {"movie_id": movies[0], "rating": 5.0}, {"movie_id": movies[1], "rating": 1.0}]})
    assert response.status_code == 201
    rated = client.get(f"/users/{new_user}/movies/{movies[0]}").get_json()
    assert rated["rated"] is True and rated["rating"] == 5.0
    other = client.get(f"/users/{new_user}/movies/{movies[2]}").get_json()
    assert other["rated"] is False and 0.0 <= other["like_probability"] <= 1.0
    assert other["explanation"]
