"""The OpenAPI 3.0 description served at ``/openapi.json``."""

from __future__ import annotations

from typing import Any

_ERROR = {"description": "error", "content": {"application/json": {"schema": {
    "$ref": "#/components/schemas/Error"}}}}


def _param(name: str, where: str, schema: dict[str, Any], description: str,
           required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path",
            "schema": schema, "description": description}


_K = _param("k", "query", {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
            "number of items")
_FILTERS = [
    _param("genre", "query", {"type": "array", "items": {"type": "string"}},
           "keep movies of any of these genres (repeat or comma-separate)"),
    _param("exclude", "query", {"type": "array", "items": {"type": "integer"}},
           "movie ids never to return (repeat or comma-separate)"),
    _param("year_min", "query", {"type": "integer", "minimum": 1800, "maximum": 2100}, ""),
    _param("year_max", "query", {"type": "integer", "minimum": 1800, "maximum": 2100}, ""),
    _param("family", "query", {"type": "boolean", "default": False},
           "family-friendly titles only; 400 when the artifacts carry no family flag"),
]
_ERROR_SCHEMA = {"type": "object", "properties": {"error": {
    "type": "object", "properties": {"status": {"type": "integer"},
                                     "name": {"type": "string"},
                                     "message": {"type": "string"}}}}}
_ID = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
_RATINGS = {"type": "object", "required": ["ratings"], "properties": {"ratings": {
    "type": "array", "minItems": 1, "maxItems": 1000, "items": {
        "type": "object", "required": ["movie_id", "rating"], "properties": {
            "movie_id": _ID, "rating": {"type": "number"},
            "timestamp": {"type": "integer", "minimum": 0,
                          "description": "Unix seconds; on every rating or on none"}}}}}}


def _get(
    summary: str, params: list[dict[str, Any]], ok: str, codes: tuple[int, ...]
) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": {"description": ok}}
    responses.update({str(code): _ERROR for code in codes})
    return {"get": {"summary": summary, "parameters": params, "responses": responses}}


def openapi_spec() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "reco", "version": "1", "description": "Movie recommendations"},
        "paths": {
            "/recommend/{user}": _get(
                "Top-k movies for a user; unknown users get popular titles (fallback: true)",
                [_param("user", "path", _ID, "user id"), _K,
                 _param("exclude_seen", "query", {"type": "boolean", "default": True}, "")]
                + _FILTERS, "recommendations", (400, 503)),
            "/recommend": {"post": {
                "summary": "Top-k for a person the model never saw, from their ratings "
                           "(fold-in through both stages, no retraining); unknown movie ids "
                           "are ignored and listed in ignored_movie_ids",
                "parameters": [_K] + _FILTERS,
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "$ref": "#/components/schemas/Ratings"}}}},
                "responses": {"200": {"description": "recommendations"},
                              "400": _ERROR, "503": _ERROR}}},
            "/similar/{movie}": _get(
                "Nearest titles to a movie (content and CF blended)",
                [_param("movie", "path", _ID, "movie id"), _K] + _FILTERS,
                "similar movies", (400, 404, 503)),
            "/movies": _get(
                "Title search, case and accent insensitive",
                [_param("q", "query", {"type": "string", "maxLength": 200}, "text to find"),
                 _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100,
                                           "default": 20}, "")],
                "matching movies", (400, 503)),
            "/movies/{movie}": _get("One movie", [_param("movie", "path", _ID, "movie id")],
                                    "the movie", (400, 404, 503)),
            "/users/{user}": _get("A user's counts and top genres",
                                  [_param("user", "path", _ID, "user id")],
                                  "the user", (400, 404, 503)),
            "/health": _get("Liveness and a manifest summary", [], "ok", (503,)),
        },
        "components": {"schemas": {"Ratings": _RATINGS, "Error": _ERROR_SCHEMA}},
    }
