"""api.py with app.test_client(): every route, every error, and a fuzz test for 5xx."""

from __future__ import annotations

import logging
import re
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api import create_app
from scripts import build_features


@pytest.fixture(scope="module")
def client(trained):  # trained: the session's artifacts (tests/conftest.py), read only
    return create_app({"ARTIFACTS": str(trained), "TESTING": True}).test_client()


def _error(response, status: int) -> dict:
    assert response.status_code == status and response.is_json
    body = response.get_json()["error"]
    assert body["status"] == status and body["message"]
    return body


def test_recommend_returns_k_items_with_reasons(client):
    body = client.get("/recommend/1?k=7").get_json()
    assert body["user"] == 1 and body["k"] == 7 and body["fallback"] is False
    assert len(body["items"]) == 7 and body["model_version"]
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True)
    for item in body["items"]:
        assert {"movie_id", "title", "year", "genres", "score", "reason"} <= set(item)


def test_unknown_user_gets_popular_titles_marked_fallback(client):
    body = client.get("/recommend/123456?k=5").get_json()
    assert body["fallback"] is True and len(body["items"]) == 5


def test_filters_apply_before_the_cut(client):
    body = client.get("/recommend/1?k=10&genre=Drama&year_min=1990&exclude_seen=true").get_json()
    assert len(body["items"]) == 10
    for item in body["items"]:
        assert "Drama" in item["genres"] and item["year"] >= 1990
    first = client.get("/recommend/1?k=3").get_json()["items"]
    excluded = ",".join(str(i["movie_id"]) for i in first)
    again = client.get(f"/recommend/1?k=3&exclude={excluded}").get_json()["items"]
    assert not {i["movie_id"] for i in first} & {i["movie_id"] for i in again}


def test_post_recommend_folds_in_a_new_person(client):
    ratings = [{"movie_id": m, "rating": r} for m, r in ((1, 5), (2, 4.5), (3, 1), (4, 5))]
    response = client.post("/recommend?k=8&genre=Drama", json={"ratings": ratings})
    body = response.get_json()
    assert response.status_code == 200 and body["fallback"] is False and body["user"] is None
    assert len(body["items"]) == 8 and body["ignored_movie_ids"] == []
    got = [i["movie_id"] for i in body["items"]]
    assert not set(got) & {1, 2, 3, 4}
    assert all("Drama" in i["genres"] for i in body["items"])
    assert any(i["reason"].startswith("because you liked") for i in body["items"])
    assert body["model_version"]


def test_a_known_users_ratings_sent_as_a_new_person_give_much_the_same_list(client):
    service = client.application.extensions["reco"].service
    movies, ratings = service.model.stage_.store.known_users([1]).seen(0)
    payload = {"ratings": [{"movie_id": int(m), "rating": float(r)}
                           for m, r in zip(movies, ratings)]}
    folded_items = client.post("/recommend?k=10", json=payload).get_json()["items"]
    folded = {i["movie_id"] for i in folded_items}
    known = {i["movie_id"] for i in client.get("/recommend/1?k=10").get_json()["items"]}
    # timestamps differ (the model's "now" vs the user's own) and fold-in is one half-step
    assert len(folded & known) >= 5


def test_post_recommend_ignores_unknown_movies_and_falls_back(client):
    ratings = [{"movie_id": 1, "rating": 4}, {"movie_id": 99_999_999, "rating": 5}]
    body = client.post("/recommend", json={"ratings": ratings}).get_json()
    assert body["fallback"] is False and body["ignored_movie_ids"] == [99_999_999]
    unknown_only = {"ratings": [{"movie_id": 99_999_999, "rating": 5}]}
    body = client.post("/recommend?k=4", json=unknown_only).get_json()
    assert body["fallback"] is True and len(body["items"]) == 4


@pytest.mark.parametrize("payload,fragment", [
    (None, "not valid JSON"), ([1, 2], "JSON object"), ({"ratings": []}, "non-empty"),
    ({"ratings": [{"movie_id": "1", "rating": 4}]}, "ratings[0].movie_id"),
    ({"ratings": [{"movie_id": 1, "rating": 9}]}, "ratings[0].rating"),
    ({"ratings": [{"movie_id": 1, "rating": True}]}, "ratings[0].rating"),
    ({"ratings": [{"movie_id": 1, "rating": 4}, 7]}, "ratings[1]"),
    ({"ratings": [{"movie_id": 1, "rating": 4, "timestamp": 5}, {"movie_id": 2, "rating": 3}]},
     "every rating or with none"),
    ({"ratings": [{"movie_id": 1, "rating": 4}] * 1001}, "at most 1000"),
])
def test_post_recommend_rejects_bad_bodies(client, payload, fragment):
    response = client.post("/recommend", json=payload) if payload is not None else (
        client.post("/recommend", data="not json", content_type="application/json"))
    assert fragment in _error(response, 400)["message"]


def test_similar_blends_and_filters(client):
    body = client.get("/similar/1?k=5&year_max=2020").get_json()
    assert body["movie"]["movie_id"] == 1 and len(body["items"]) == 5
    anchor = body["movie"]["movie_id"]
    assert anchor not in [i["movie_id"] for i in body["items"]]
    assert all(i["year"] <= 2020 for i in body["items"])


def test_search_movie_user_health_openapi(client):
    search = client.get("/movies?q=the&limit=3").get_json()
    assert len(search["items"]) <= 3
    assert all("the" in i["title"].lower() for i in search["items"])
    assert client.get("/movies/1").get_json()["movie_id"] == 1
    user = client.get("/users/1").get_json()
    assert user["n_ratings"] > 0 and user["top_genres"]
    assert client.get("/health").get_json()["status"] == "ok"
    spec = client.get("/openapi.json").get_json()
    assert {"/recommend/{user}", "/recommend", "/similar/{movie}", "/movies"} <= set(spec["paths"])
    assert "post" in spec["paths"]["/recommend"]


@pytest.mark.parametrize("url,status", [
    ("/recommend/abc", 400), ("/recommend/1?k=0", 400), ("/recommend/1?k=101", 400),
    ("/recommend/1?k=x", 400), ("/recommend/1?exclude_seen=maybe", 400),
    ("/recommend/1?genre=NoSuchGenre", 400), ("/recommend/1?genre=", 400),
    ("/recommend/1?exclude=1,", 400),
    ("/recommend/1?family=true", 400), ("/recommend/-1", 400),
    ("/similar/99999999", 404), ("/movies/0", 404), ("/users/99999", 404),
    ("/nowhere", 404),
])
def test_errors_are_json_with_the_right_status(client, url, status):
    _error(client.get(url), status)


def test_wrong_method_is_405_json(client):
    assert _error(client.post("/recommend/1"), 405)["name"] == "method_not_allowed"


def test_missing_artifacts_answer_503_json(tmp_path):
    client = create_app({"ARTIFACTS": str(tmp_path / "none"), "TESTING": True}).test_client()
    assert "no manifest" in _error(client.get("/health"), 503)["message"]
    _error(client.get("/recommend/1"), 503)


def test_features_only_artifacts_answer_503(tmp_path, csv_release):
    assert build_features.main(["--data", str(csv_release), "--artifacts", str(tmp_path)]) == 0
    client = create_app({"ARTIFACTS": str(tmp_path), "TESTING": True}).test_client()
    assert "features only" in _error(client.get("/health"), 503)["message"]  # not "ok"
    assert "features only" in _error(client.get("/recommend/1"), 503)["message"]


def test_artifacts_dir_from_the_environment(trained, monkeypatch):
    monkeypatch.setenv("RECO_ARTIFACTS", str(trained))
    assert create_app({"TESTING": True}).test_client().get("/health").status_code == 200


_segment = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_query = st.dictionaries(
    st.sampled_from(["k", "genre", "exclude", "year_min", "year_max", "family",
                     "exclude_seen", "q", "limit"]),
    st.one_of(_segment, st.integers(-10**12, 10**12).map(str)), max_size=5)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["recommend", "similar", "movies", "users", "health", "x"]),
       st.one_of(_segment, st.integers(-10**12, 10**12).map(str)), _query)
def test_fuzz_never_answers_5xx(client, route, ident, query):
    segment = quote(ident, safe="")  # as an HTTP client sends an id holding "?", "/", "#"
    response = client.get(f"/{route}/{segment}" if route != "health" else "/health",
                          query_string=query)
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    assert response.is_json


def test_exclude_seen_false_lets_rated_movies_rank(trained, client):
    from reco.serving.service import RecoService

    model = RecoService.load(trained).model
    for user in model.user_map_.ids[:50].tolist():
        rated = set(model.stage_.store.known_users([user]).seen(0)[0].tolist())
        kept = client.get(f"/recommend/{user}?k=20&exclude_seen=false").get_json()["items"]
        hits = rated & {item["movie_id"] for item in kept}
        if hits:
            break
    else:
        pytest.fail("no rated movie in any of 50 users' top 20 with exclude_seen=false")
    # the same list as the model ranks it, rated movies where the ranker puts them
    ids, _ = model.recommend(user, 20, exclude_seen=False)
    assert [item["movie_id"] for item in kept] == ids.tolist()
    # a rated movie is never its own reason
    titles = {item["movie_id"]: item["title"] for item in kept}
    for item in kept:
        if item["movie_id"] in hits:
            assert item["reason"] != f"because you liked {titles[item['movie_id']]}"
    excluded = client.get(f"/recommend/{user}?k=20&exclude_seen=true").get_json()["items"]
    assert not rated & {item["movie_id"] for item in excluded}
    default = client.get(f"/recommend/{user}?k=20").get_json()["items"]
    assert default == excluded


# ---------------------------------------------------------------- error hygiene
#: What no response body may carry: a traceback, an absolute path, a memory address.
LEAK = re.compile(r"Traceback|File \"|(?:^|[\s(\"'=:])/(?:tmp|root|usr|home|opt|work|venv)\b"
                  r"|0x[0-9a-fA-F]{6,}|\[bt\]|site-packages")


def test_every_answer_carries_a_request_id_and_errors_repeat_it(client):
    given = client.get("/recommend/1", headers={"X-Request-Id": "lb-42.a_b"})
    assert given.headers["X-Request-Id"] == "lb-42.a_b"
    error = client.get("/recommend/x", headers={"X-Request-Id": "abc"})
    assert _error(error, 400)["request_id"] == "abc" == error.headers["X-Request-Id"]
    hostile = client.get("/nowhere", headers={"X-Request-Id": "x" * 65 + "\u00e9<script>"})
    body = _error(hostile, 404)
    assert re.fullmatch(r"[0-9a-f]{16}", body["request_id"])  # ours, not the client's text
    assert hostile.headers["X-Request-Id"] == body["request_id"]


def test_an_unexpected_error_is_logged_with_its_id_and_answered_without_detail(
        trained, monkeypatch, caplog):
    app = create_app({"ARTIFACTS": str(trained), "TESTING": True})
    service = app.extensions["reco"].service

    def broken(*args, **kwargs):
        raise RuntimeError("failed at /opt/venv/lib/libxgboost.so(+0x2c1a8c) [0x7f89fa4c1a8c]")

    monkeypatch.setattr(service, "recommend", broken)
    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/recommend/1", headers={"X-Request-Id": "req-7"})
    body = _error(response, 500)
    assert body["request_id"] == "req-7" and not LEAK.search(response.get_data(as_text=True))
    assert any("req-7" in r.getMessage() for r in caplog.records)  # the log has the detail
    assert "libxgboost" in caplog.text


def test_a_message_that_would_leak_is_withheld(client):
    from api import _public

    with client.application.test_request_context():
        assert _public("cf.npz: sha256 differs") == "cf.npz: sha256 differs"
        for leaky in ("/usr/lib/x.so: bad", "at 0x7f89fa4c1a8c", "Traceback (most recent"):
            assert "withheld" in _public(leaky)


@pytest.mark.parametrize("path", ["/recommend/1", "/similar/1", "/movies?q=a", "/movies/1",
                                  "/users/1", "/health", "/livez", "/recommend/x",
                                  "/similar/99999999", "/nowhere", "/recommend/1?k=0"])
def test_no_body_matches_a_traceback_path_or_address(client, path):
    response = client.get(path)
    assert not LEAK.search(response.get_data(as_text=True)), path


# ---------------------------------------------------------------- hostile input
@pytest.mark.parametrize("spelling", ["007", "+1", " 1", "1 ", "1_0", "\u0661", "\uff11", "-0",
                                      "1e3", "0x1", "", "99999999999999999999999"])
def test_one_canonical_spelling_per_id_and_number(client, spelling):
    assert _error(client.get(f"/movies/{quote(spelling)}"), 400 if spelling else 404)
    assert _error(client.get("/recommend/1", query_string={"k": spelling}), 400)


def test_a_body_past_the_limit_is_refused_before_it_is_parsed(client):
    from api import MAX_BODY_BYTES

    big = b'{"ratings": [' + b" " * MAX_BODY_BYTES + b"]}"
    body = _error(client.post("/recommend", data=big, content_type="application/json"), 413)
    assert body["name"] == "request_entity_too_large"


def test_deep_json_is_400_not_a_recursion(client):
    for deep in ("[" * 10_000 + "]" * 10_000, '{"a":' * 5000 + "1" + "}" * 5000):
        response = client.post("/recommend", data=deep, content_type="application/json")
        assert "nested deeper" in _error(response, 400)["message"]
    shallow = '{"ratings": [{"movie_id": 1, "rating": 4, "note": "[[[[[[[[[[[[[[[[[[[["}]}'
    assert client.post("/recommend", data=shallow, content_type="application/json").status_code \
        == 200  # brackets inside strings do not count


def test_a_body_of_another_media_type_is_415(client):
    response = client.post("/recommend", data="ratings=1", content_type="text/plain")
    assert _error(response, 415)["name"] == "unsupported_media_type"


def test_405_says_which_methods_are_allowed(client):
    response = client.delete("/recommend/1")
    _error(response, 405)
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET"}


def test_a_movie_rated_twice_keeps_its_newest_rating(client):
    from api import _ratings_body

    app = client.application
    payload = {"ratings": [{"movie_id": 1, "rating": 5.0, "timestamp": 200},
                           {"movie_id": 2, "rating": 3.0, "timestamp": 100},
                           {"movie_id": 1, "rating": 1.0, "timestamp": 150}]}
    with app.test_request_context("/recommend", method="POST", json=payload):
        movies, values, stamps = _ratings_body(app.extensions["reco"].service)
    assert (movies, values, stamps) == ([1, 2], [5.0, 3.0], [200, 100])
    untimed = {"ratings": [{"movie_id": 1, "rating": 5.0}, {"movie_id": 1, "rating": 2.0}]}
    with app.test_request_context("/recommend", method="POST", json=untimed):
        assert _ratings_body(app.extensions["reco"].service)[:2] == ([1], [2.0])  # the later


def test_a_year_range_that_holds_no_year_gives_no_items(client):
    body = client.get("/recommend/1?year_min=2010&year_max=2000").get_json()
    assert body["items"] == []
    assert client.get("/similar/1?year_min=2010&year_max=2000").get_json()["items"] == []


def test_users_lists_known_ids_most_active_first(client, trained):
    body = client.get("/users?limit=5").get_json()
    service = client.application.extensions["reco"].service
    assert body["total"] == len(service.model.user_map_)
    counts = [u["n_ratings"] for u in body["users"]]
    assert len(counts) == 5 and counts == sorted(counts, reverse=True) and counts[-1] > 0
    for entry in body["users"]:  # real trained users, with their real counts
        assert client.get(f"/users/{entry['user_id']}").get_json()["n_ratings"] == \
            entry["n_ratings"]
    assert len(client.get("/users").get_json()["users"]) == 20
    for bad in ("0", "101", "-1", "01", "x"):
        _error(client.get(f"/users?limit={bad}"), 400)


def test_favicon_is_served_and_movies_carry_their_average(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert response.data.startswith(b"<svg")
    item = client.get("/recommend/1?k=1").get_json()["items"][0]
    average = client.get(f"/movies/{item['movie_id']}").get_json()["rating_mean"]
    assert 0.5 <= average <= 5.0
