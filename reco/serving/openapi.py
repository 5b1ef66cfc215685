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
_MOVIE = {"$ref": "#/components/schemas/Movie"}
_SEARCH = {"type": "object", "required": ["q", "items"], "properties": {
    "q": {"type": "string"}, "items": {"type": "array", "items": _MOVIE}}}


#: GET /users: the page's user picker.
_USERS_BODY = {"type": "object", "required": ["users", "total"], "properties": {
    "users": {"type": "array", "items": {
        "type": "object", "required": ["user_id", "n_ratings"],
        "properties": {"user_id": _ID, "n_ratings": {"type": "integer", "minimum": 1}}}},
    "total": {"type": "integer", "minimum": 0, "description": "how many users the model knows"}}}


def _responses(ok: str, codes: tuple[int, ...],
               body: dict[str, Any] | None = None) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": {"description": ok, "content": {
        "application/json": {"schema": body or {"type": "object"}}}}}
    responses.update({str(code): _ERROR for code in sorted(set(codes + _ALWAYS))})
    return responses


def _get(summary: str, params: list[dict[str, Any]], ok: str,
         codes: tuple[int, ...] = (), body: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"get": {"summary": summary, "parameters": params,
                    "responses": _responses(ok, codes, body)}}


_USERS = _get("Known users to pick from, the most active first (ties: lower id), with their "
              "rating counts, and how many the model knows",
              [_param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100,
                                         "default": 20}, "number of users")],
              "a sample of known users", body=_USERS_BODY)


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


def openapi_spec(genres: list[str] | None = None, rating_scale: tuple[float, float] = (0.5, 5.0),
                 family: bool = False) -> dict[str, Any]:
    """The description, for a model that knows ``genres``, rates on ``rating_scale`` and
    (``family``) carries a family-friendly flag."""
    genres = list(genres or [])
    k = _param("k", "query", {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
               "number of items")
    filters = _filters(genres, family)
    spec: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": "reco", "version": "1", "description": "Movie recommendations"},
        "paths": {
            "/recommend/{user}": _get(
                "Top-k movies for a user; unknown users get popular titles (fallback: true)",
                [_param("user", "path", _ID, "user id"), k,
                 _param("exclude_seen", "query", {"type": "boolean", "default": True})]
                + filters, "recommendations"),
            "/recommend": {"post": {
                "summary": "Top-k for a person the model never saw, from their ratings "
                           "(fold-in through both stages, no retraining); unknown movie ids "
                           "are ignored and listed in ignored_movie_ids",
                "parameters": [k] + filters,
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Ratings"}}}},
                "responses": _responses("recommendations", (413, 415))}},
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
                "matching movies", body=_SEARCH),
            "/movies/{movie}": _get("One movie", [_param("movie", "path", _ID, "movie id")],
                                    "the movie", (404,), body=_MOVIE),
            "/users/{user}": _get("A user's counts and top genres",
                                  [_param("user", "path", _ID, "user id")],
                                  "the user", (404,)),
            "/health": _get("Readiness: 200 only with a verified model that answers a smoke "
                            "recommendation; the version, and any refused one", [], "ready"),
            "/livez": _get("Liveness only", [], "alive"),
        },
        "components": {"schemas": {"Ratings": _ratings(*rating_scale), "Error": _ERROR_SCHEMA,
                                   "Movie": _MOVIE_SCHEMA}},
    }
    # merged into /users, so another method on the same path (POST /users) joins this one
    spec["paths"].setdefault("/users", {}).update(_USERS)
    return spec
