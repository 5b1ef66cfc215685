"""The OpenAPI 3.0 description served at ``/openapi.json``.

It describes exactly what the running model accepts: the genres it knows (an enum), its
rating scale, and ``family`` only when the version carries a family flag. So every request
the schema allows is answered 2xx (or 404 for an unknown id), and every error the API can
give is listed, which schemathesis checks in ``tests/serving/test_openapi.py``.
"""

from __future__ import annotations

from typing import Any

MAX_ID = 2**31 - 1
_ERROR_SCHEMA = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["status", "name", "message", "request_id"],
    "properties": {"status": {"type": "integer"}, "name": {"type": "string"},
                   "message": {"type": "string"}, "request_id": {"type": "string"}}}}}
_ERROR = {"description": "error (JSON, with the request id)", "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/Error"}}}}
#: What any route may answer besides its own codes: a malformed request (400), a URL or
#: headers over gunicorn's limits (414, 431), no verified model (503), a bug (500).
_ALWAYS = (400, 414, 431, 500, 503)
_ID = {"type": "integer", "minimum": 0, "maximum": MAX_ID}


def _param(name: str, where: str, schema: dict[str, Any], description: str = "",
           **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "schema": schema,
            "description": description, **extra}


#: A movie as every route shows it: the title as MovieLens stores it ("Matrix, The (1999)")
#: and in reading order without the year ("The Matrix"), the alternates, the year apart.
_MOVIE_SCHEMA = {"type": "object",
                 "required": ["movie_id", "title", "display_title", "alternate_titles", "year",
                              "genres"],
                 "properties": {
                     "movie_id": {"type": "integer"},
                     "title": {"type": "string", "description": "as MovieLens stores it"},
                     "display_title": {"type": "string",
                                       "description": "in reading order, without the year"},
                     "alternate_titles": {"type": "array", "items": {"type": "string"}},
                     "year": {"type": "integer", "nullable": True},
                     "genres": {"type": "array", "items": {"type": "string"}},
                     "n_ratings": {"type": "integer", "description": "ratings in training"},
                     "rating_mean": {"type": "number", "nullable": True,
                                     "description": "their average (null: none)"}}}
_SEARCH_SCHEMA = {"type": "object", "required": ["q", "items"], "properties": {
    "q": {"type": "string"}, "items": {"type": "array",
                                       "items": {"$ref": "#/components/schemas/Movie"}}}}


#: GET /users: the page's user picker.
_USERS_BODY = {"type": "object", "required": ["users", "total"], "properties": {
    "users": {"type": "array", "items": {
        "type": "object", "required": ["user_id", "n_ratings"],
        "properties": {"user_id": _ID, "n_ratings": {"type": "integer", "minimum": 1}}}},
    "total": {"type": "integer", "minimum": 0, "description": "how many users the model knows"}}}


def _responses(ok: str, codes: tuple[int, ...],
               schema: str | None = None) -> dict[str, Any]:
    body = {"$ref": f"#/components/schemas/{schema}"} if schema else {"type": "object"}
    responses: dict[str, Any] = {"200": {"description": ok, "content": {
        "application/json": {"schema": body}}}}
    responses.update({str(code): _ERROR for code in sorted(set(codes + _ALWAYS))})
    return responses


def _get(summary: str, params: list[dict[str, Any]], ok: str,
         codes: tuple[int, ...] = (), schema: str | None = None) -> dict[str, Any]:
    return {"get": {"summary": summary, "parameters": params,
                    "responses": _responses(ok, codes, schema)}}


_UNIT = {"type": "number", "minimum": 0, "maximum": 1}
_LIKE = {**_UNIT, "description": (
    "P(like): the like model's probability that this user rates the movie at or above the "
    "like threshold (3.5). For a folded-in person (POST /recommend) it is computed from "
    "their ratings; for a fallback answer (no user) it is P(like) for the average user "
    "of the training data (every user-side input averaged over the known users)")}
_SCORE = {**_UNIT, "description": (
    "what the list is ordered by, on one scale for every source: the candidate ranker's "
    "probability that the user likes the movie next (the logistic of its margin for a "
    "rank:* ranker). Fallback answers are the most liked titles, scored and ordered by "
    "the same ranker for the average user")}
#: One line of an explanation (reco.ranking.explain.Reason).
_REASON = {"type": "object", "required": ["feature", "text", "contribution", "value"],
           "properties": {
               "feature": {"type": "string", "description": "the like model's feature"},
               "text": {"type": "string", "description": "the feature in words"},
               "contribution": {"type": "number", "description": (
                   "its signed contribution to the log-odds of P(like) (XGBoost "
                   "pred_contribs): positive raised P(like)")},
               "value": {"type": "number", "nullable": True,
                         "description": "the feature's value (null: unknown)"}}}
_EXPLANATION = {"type": "array", "items": {"$ref": "#/components/schemas/Reason"},
                "description": "the features that moved P(like) most, largest first"}
_ITEM = {"type": "object",
         "required": ["movie_id", "title", "year", "genres", "score", "like_probability",
                      "reason"],
         "properties": {
             "movie_id": _ID, "title": {"type": "string"},
             "year": {"type": "integer", "nullable": True},
             "genres": {"type": "array", "items": {"type": "string"}},
             "score": _SCORE, "like_probability": _LIKE,
             "reason": {"type": "string"},
             "explanation": {**_EXPLANATION,
                             "description": "only with explain=true: " +
                             str(_EXPLANATION["description"])}}}
_RECOMMENDATIONS = {"type": "object",
                    "required": ["user", "k", "fallback", "items", "model_version"],
                    "properties": {
                        "user": {"type": "integer", "nullable": True},
                        "k": {"type": "integer"}, "fallback": {"type": "boolean"},
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
                        "model_version": {"type": "string", "nullable": True},
                        "ignored_movie_ids": {"type": "array", "items": _ID}}}
_PAIR = {"type": "object",
         "required": ["user_id", "movie_id", "title", "like_probability", "predicted_rating",
                      "rated", "rating", "explanation", "model_version"],
         "properties": {
             "user_id": _ID, "movie_id": _ID, "title": {"type": "string"},
             "like_probability": _LIKE,
             "predicted_rating": {"type": "number", "nullable": True, "description": (
                 "the rating model's prediction, clipped to the rating scale (null: no "
                 "rating model in these artifacts)")},
             "rated": {"type": "boolean", "description": "the user rated this movie"},
             "rating": {"type": "number", "nullable": True,
                        "description": "their rating (null when not rated)"},
             "explanation": _EXPLANATION,
             "model_version": {"type": "string", "nullable": True}}}


_USERS = _get("Known users to pick from, the most active first (ties: lower id), with their "
              "rating counts, and how many the model knows",
              [_param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100,
                                         "default": 20}, "number of users")],
              "a sample of known users", schema="Users")


def _filters(genres: list[str], family: bool) -> list[dict[str, Any]]:
    genre = {"type": "string", "enum": genres} if genres else {"type": "string"}
    params = [
        _param("genre", "query", {"type": "array", "items": genre},
               "keep movies of any of these genres (repeat the parameter)",
               style="form", explode=True),
        _param("exclude", "query", {"type": "array", "items": _ID},
               "movie ids never to return (repeat the parameter)", style="form", explode=True),
        _param("year_min", "query", {"type": "integer", "minimum": 1800, "maximum": 2100},
               "oldest release year kept"),
        _param("year_max", "query", {"type": "integer", "minimum": 1800, "maximum": 2100},
               "newest release year kept (a range that holds no year gives no items)"),
    ]
    if family:
        params.append(_param("family", "query", {"type": "boolean", "default": False},
                             "family-friendly titles only"))
    return params


def _ratings(low: float, high: float) -> dict[str, Any]:
    rating = {"type": "number", "minimum": low, "maximum": high}
    base = {"movie_id": _ID, "rating": rating}
    timed = {"type": "object", "required": ["movie_id", "rating", "timestamp"],
             "properties": {**base, "timestamp": {"type": "integer", "minimum": 0,
                                                  "maximum": 2**40 - 1}}}
    untimed = {"type": "object", "required": ["movie_id", "rating"], "properties": base,
               "not": {"required": ["timestamp"]}}
    lists = [{"type": "array", "minItems": 1, "maxItems": 1000, "items": item}
             for item in (untimed, timed)]
    return {"type": "object", "required": ["ratings"], "properties": {"ratings": {
        "description": "a timestamp (Unix seconds) on every rating or on none; a movie "
                       "rated twice keeps its newest rating", "oneOf": lists}}}


def _stored_ratings(low: float, high: float, step: float) -> dict[str, Any]:
    """The body of POST /users/{user}/ratings: as for POST /recommend, but the rating on
    the release's grid (an enum of its values), as the store refuses any other."""
    schema = _ratings(low, high)
    grid = [round(low + n * step, 6) for n in range(int(round((high - low) / step)) + 1)]
    for option in schema["properties"]["ratings"]["oneOf"]:
        option["items"]["properties"]["rating"] = {"type": "number", "enum": grid}
    return schema


def _feedback_paths(user: dict[str, Any], movie: dict[str, Any],
                    k: dict[str, Any]) -> dict[str, Any]:
    """The routes of the feedback loop (issue 16; docs/FEEDBACK.md)."""
    created = {"description": "created", "content": {"application/json": {
        "schema": {"type": "object"}}}}
    return {
        "/users/{user}/ratings": {
            "get": {"summary": "A user's ratings, training and stored, each with its source",
                    "parameters": [user], "responses": _responses("the ratings", ())},
            "post": {
                "summary": "Store ratings (one transaction; the newest timestamp wins; "
                           "unknown movies are listed, not stored)",
                "parameters": [user],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/StoredRatings"}}}},
                "responses": {"201": created, **{
                    code: v for code, v in _responses("", (413, 415)).items()
                    if code != "200"}}},
        },
        "/users/{user}/ratings/{movie}": {"delete": {
            "summary": "Remove a stored rating (training ratings stay)",
            "parameters": [user, movie],
            "responses": {"204": {"description": "removed"}, **{
                code: v for code, v in _responses("", (404,)).items() if code != "200"}}}},
        "/users": {"post": {
            "summary": "A new user id, above every trained user's and every one handed out",
            "parameters": [],
            "responses": {"201": created, **{
                code: v for code, v in _responses("", ()).items() if code != "200"}}}},
        "/stats": _get(
            "Online evaluation per model version over the last window seconds",
            [_param("window", "query", {"type": "integer", "minimum": 1,
                                        "maximum": 366 * 86400, "default": 86400},
                    "seconds of served lists to count"), k],
            "the figures (docs/FEEDBACK.md)"),
    }


def openapi_spec(genres: list[str] | None = None, rating_scale: tuple[float, float] = (0.5, 5.0),
                 family: bool = False, rating_step: float = 0.5) -> dict[str, Any]:
    """The description, for a model that knows ``genres``, rates on ``rating_scale`` in
    steps of ``rating_step`` and (``family``) carries a family-friendly flag."""
    genres = list(genres or [])
    k = _param("k", "query", {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
               "number of items")
    filters = _filters(genres, family)
    explain = _param("explain", "query", {"type": "boolean", "default": False},
                     "add each item's explanation (the features that moved its P(like) "
                     "most); off by default, as it costs about 1.5 ms per item")
    spec: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": "reco", "version": "1", "description": "Movie recommendations"},
        "paths": {
            "/recommend/{user}": _get(
                "Top-k movies for a user; unknown users get popular titles (fallback: true)",
                [_param("user", "path", _ID, "user id"), k,
                 _param("exclude_seen", "query", {"type": "boolean", "default": True})]
                + filters + [explain], "recommendations", schema="Recommendations"),
            "/recommend": {"post": {
                "summary": "Top-k for a person the model never saw, from their ratings "
                           "(fold-in through both stages, no retraining); unknown movie ids "
                           "are ignored and listed in ignored_movie_ids",
                "parameters": [k] + filters + [explain],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Ratings"}}}},
                "responses": _responses("recommendations", (413, 415),
                                        "Recommendations")}},
            "/similar/{movie}": _get(
                "Nearest titles to a movie (content and CF blended)",
                [_param("movie", "path", _ID, "movie id"), k] + filters,
                "similar movies", (404,)),
            "/movies": _get(
                "Title search as people type: case, accents, punctuation and a moved "
                "article ignored; exact titles first, then prefixes, every word, one typo "
                "in a long word; a year in the query first; then the most rated",
                [_param("q", "query", {"type": "string", "maxLength": 200}, "text to find"),
                 _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100,
                                           "default": 20})],
                "matching movies", schema="Search"),
            "/movies/{movie}": _get("One movie", [_param("movie", "path", _ID, "movie id")],
                                    "the movie", (404,), schema="Movie"),
            "/users/{user}": _get("A user's counts and top genres",
                                  [_param("user", "path", _ID, "user id")],
                                  "the user", (404,)),
            "/users/{user}/movies/{movie}": _get(
                "P(like) for one user and movie, the predicted rating, whether the user "
                "rated it, and the features that moved P(like) most (404: a user or movie "
                "the model does not know)",
                [_param("user", "path", _ID, "user id"), _param("movie", "path", _ID,
                                                                "movie id")],
                "P(like) and why", (404,), schema="Pair"),
            "/health": _get("Readiness: 200 only with a verified model that answers a smoke "
                            "recommendation; the version, and any refused one", [], "ready"),
            "/livez": _get("Liveness only", [], "alive"),
            **_feedback_paths(_param("user", "path", _ID, "user id"),
                              _param("movie", "path", _ID, "movie id"), k),
        },
        "components": {"schemas": {"Ratings": _ratings(*rating_scale),
                                   "StoredRatings": _stored_ratings(*rating_scale, rating_step),
                                   "Error": _ERROR_SCHEMA, "Movie": _MOVIE_SCHEMA,
                                   "Search": _SEARCH_SCHEMA, "Item": _ITEM,
                                   "Recommendations": _RECOMMENDATIONS, "Reason": _REASON,
                                   "Pair": _PAIR, "Users": _USERS_BODY}},
    }
    # merged into /users, so another method on the same path (POST /users) joins this one
    spec["paths"].setdefault("/users", {}).update(_USERS)
    return spec
