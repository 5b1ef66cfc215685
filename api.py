"""reco's HTTP API: a Flask application factory.

    flask --app api run                      # development
    RECO_ARTIFACTS=artifacts flask --app api run

The model comes from an artifact store and is swapped for each new verified version
without a restart (:mod:`reco.serving.reload`); routes live on one blueprint; every error
is JSON with a proper status code and the request's id, never a stack trace, a path or
a library's message (the server log has the detail, under the same id). Model code lives
in ``reco``, not here.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import secrets
import signal
import threading
import time
from pathlib import Path
from typing import Any, TypeGuard, overload

from flask import Blueprint, Flask, current_app, g, jsonify, request, send_from_directory
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from reco.exceptions import UnknownIdError
from reco.serving import (
    MAX_BODY_BYTES,
    MAX_JSON_DEPTH,
    MAX_K,
    MAX_RATINGS,
    WEB_DIR,
    FeedbackHook,
    FeedbackSchemaError,
    FeedbackUnavailableError,
    Filters,
    ModelHolder,
    RecoService,
    openapi_spec,
)

log = logging.getLogger(__name__)
bp = Blueprint("reco", __name__)


class ApiError(Exception):
    """An error answered as ``{"error": {"status", "name", "message"}}``."""

    def __init__(self, status: int, message: str, name: str = "bad_request") -> None:
        super().__init__(message)
        self.status, self.message, self.name = status, message, name


#: What a client may name its request with (X-Request-Id); anything else gets our own id.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
#: What must never reach a client: a traceback, an absolute path, a memory address.
_LEAKS = re.compile(r"Traceback|File \"|(?:^|[\s(\"'=:])/[\w.-]+/|[A-Za-z]:\\|0x[0-9a-fA-F]{6,}")


def _request_id() -> str:
    return str(getattr(g, "request_id", "") or "-")


def _public(message: str) -> str:
    """``message`` as a client may see it: ours are written to be, and one that would
    carry a path, an address or a traceback anyway is replaced (the log keeps it)."""
    if _LEAKS.search(message):
        log.error("[%s] withheld from the response: %s", _request_id(), message)
        return "details withheld; see the server log for this request id"
    return message


def _error(code: int, name: str, message: str, **extra: Any) -> Any:
    body = {"error": {"status": code, "name": name, "message": _public(message),
                      "request_id": _request_id()}, **extra}
    response = jsonify(body)
    response.status_code = code
    return response


def _holder() -> ModelHolder:
    return current_app.extensions["reco"]


MAX_STATS_WINDOW = 366 * 86400  # /stats?window= in seconds: at most a year
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def _service() -> RecoService:
    """The model this request is answered from: read once, so a reload mid-request does
    not change it."""
    service = _holder().service
    if service is None:
        raise ApiError(503, _holder().error or "model not loaded", "artifacts_unavailable")
    g.service = service  # X-Model-Version names the model that answered, not a newer one
    return service


#: One spelling per number: ASCII digits, no sign, no leading zero, no spaces (int() would
#: also take " 10", "+1", "1_0", "007" and Arabic-Indic or fullwidth digits).
_CANONICAL_INT = re.compile(r"^(?:0|[1-9][0-9]{0,17})$")


def _canonical_int(raw: str) -> int | None:
    return int(raw) if _CANONICAL_INT.fullmatch(raw) else None


def _path_id(value: str, what: str) -> int:
    number = _canonical_int(value)
    if number is None:
        raise ApiError(400, f"{what} id must be written as a non-negative integer in ASCII "
                            f"digits without a sign or leading zeros, got {value[:40]!r}")
    if not number < 2**31:
        raise ApiError(400, f"{what} id out of range: {number}")
    return number


@overload
def _int_arg(name: str, default: int, low: int, high: int) -> int: ...
@overload
def _int_arg(name: str, default: None, low: int, high: int) -> int | None: ...
def _int_arg(name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    value = _canonical_int(raw)
    if value is None:
        raise ApiError(400, f"{name} must be an integer in ASCII digits (no sign, spaces or "
                            f"leading zeros), got {raw[:40]!r}")
    if not low <= value <= high:
        raise ApiError(400, f"{name} must be between {low} and {high}, got {value}")
    return value


def _bool_arg(name: str, default: bool) -> bool:
    raw = request.args.get(name)
    if raw is None:
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ApiError(400, f"{name} must be true or false, got {raw!r}")


def _filters(service: RecoService) -> Filters:
    # (repeated or comma-separated; an empty one is a mistake, not "no filter")
    genres = tuple(g for raw in request.args.getlist("genre") for g in raw.split(","))
    unknown = [g for g in genres if g not in service.genres]
    if unknown:
        raise ApiError(400, f"unknown genre(s) {unknown}; known: {service.genres}")
    exclude = [_path_id(part, "excluded movie") for raw in request.args.getlist("exclude")
               for part in raw.split(",")]
    family = _bool_arg("family", False)
    if family and not service.has_family_flag:
        raise ApiError(400, "family=true is not available: these artifacts carry no "
                            "family-friendly flag (train with scripts/train.py --family-model "
                            "DIR; README, 'Text models')", "family_unavailable")
    year_min = _int_arg("year_min", None, 1800, 2100)
    year_max = _int_arg("year_max", None, 1800, 2100)
    return Filters(genres, tuple(exclude), year_min, year_max, family)


def _not_found(exc: UnknownIdError) -> ApiError:
    return ApiError(404, str(exc), "not_found")


@bp.get("/recommend/<user>")
def recommend(user: str) -> Any:
    service = _service()
    user_id = _path_id(user, "user")
    k = _int_arg("k", 10, 1, MAX_K)
    exclude_seen = _bool_arg("exclude_seen", True)
    filters = _filters(service)
    explain = _bool_arg("explain", False)
    # stored ratings (issue 16) are folded in; the list served is recorded, sampled
    return jsonify(_feedback().recommend(service, user_id, k, exclude_seen, filters, explain))


def _json_body() -> Any:
    """The request's JSON, read within :data:`MAX_BODY_BYTES` (larger: 413 before any of it
    is parsed); 400 for anything that is not JSON, JSON nested deeper than
    :data:`MAX_JSON_DEPTH`, or a body of another media type."""
    if not request.is_json:
        raise ApiError(415, "send the body as application/json", "unsupported_media_type")
    try:
        data = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH
    except HTTPException:
        raise
    except Exception as exc:  # the server's body reader: bad chunked framing, a cut body
        log.warning("[%s] request body unreadable: %r", _request_id(), exc)
        raise ApiError(400, "the request body could not be read (bad framing or cut "
                            "short)") from None
    if _json_depth(data) > MAX_JSON_DEPTH:
        raise ApiError(400, f"the JSON body is nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(data)
    except (ValueError, RecursionError):  # not JSON, or not UTF-8
        raise ApiError(400, "the body is not valid JSON (UTF-8)") from None


def _json_depth(data: bytes) -> int:
    """How deep ``[`` and ``{`` nest, outside strings: checked before parsing, so a body of
    10,000 brackets costs a scan, not a recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_JSON_DEPTH:
                    return deepest
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _ratings_body(service: RecoService) -> tuple[list[int], list[float], list[int] | None]:
    """Validate ``{"ratings": [{"movie_id", "rating"[, "timestamp"]}, ...]}``. A movie
    rated twice keeps its newest rating (the later entry on a tie), as the data loader
    keeps the newest line."""
    body = _json_body()
    example = '{"ratings": [{"movie_id": 1, "rating": 4.5}]}'
    if not isinstance(body, dict):
        raise ApiError(400, f"the body must be a JSON object such as {example}")
    ratings = body.get("ratings")
    if not isinstance(ratings, list) or not ratings:
        raise ApiError(400, f"'ratings' must be a non-empty list, as in {example}")
    if len(ratings) > MAX_RATINGS:
        raise ApiError(400, f"at most {MAX_RATINGS} ratings, got {len(ratings)}")
    low, high = service.rating_scale
    movies, values, stamps = [], [], []
    for n, entry in enumerate(ratings):
        where = f"ratings[{n}]"
        if not isinstance(entry, dict):
            raise ApiError(
                400, f"{where} must be an object with movie_id and rating, got {entry!r}")
        movie = entry.get("movie_id")
        if not _is_int(movie) or not 0 <= movie < 2**31:
            raise ApiError(400, f"{where}.movie_id must be an integer id, got {movie!r}")
        rating = entry.get("rating")
        if not _is_number(rating) or not low <= rating <= high:
            raise ApiError(
                400, f"{where}.rating must be a number from {low} to {high}, got {rating!r}")
        stamp = entry.get("timestamp")
        if "timestamp" in entry and (not _is_int(stamp) or not 0 <= stamp < 2**40):
            raise ApiError(400, f"{where}.timestamp must be Unix seconds, got {stamp!r}")
        movies.append(movie)
        values.append(float(rating))
        stamps.append(stamp)
    given = [t is not None for t in stamps]
    if any(given) and not all(given):
        raise ApiError(400, "give a timestamp with every rating or with none")
    newest: dict[int, int] = {}  # movie -> the entry that stays
    for n, movie in enumerate(movies):
        kept = newest.get(movie)
        if kept is None or not all(given) or stamps[n] >= stamps[kept]:  # type: ignore[operator]
            newest[movie] = n
    keep = sorted(newest.values())
    return ([movies[n] for n in keep], [values[n] for n in keep],
            [stamps[n] for n in keep] if all(given) else None)  # type: ignore[misc]


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[float]:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


@bp.post("/recommend")
def recommend_new_user() -> Any:
    service = _service()
    k = _int_arg("k", 10, 1, MAX_K)
    filters = _filters(service)
    explain = _bool_arg("explain", False)
    movies, values, stamps = _ratings_body(service)
    return jsonify(service.recommend_ratings(movies, values, stamps, k or 10, filters,
                                             explain=explain))


@bp.get("/similar/<movie>")
def similar(movie: str) -> Any:
    service = _service()
    movie_id = _path_id(movie, "movie")
    k = _int_arg("k", 10, 1, MAX_K)
    filters = _filters(service)
    try:
        return jsonify(service.similar(movie_id, k, filters))
    except UnknownIdError as exc:
        raise _not_found(exc) from None


@bp.get("/movies")
def movies() -> Any:
    service = _service()
    limit = _int_arg("limit", 20, 1, MAX_K)
    query = request.args.get("q", "")
    if len(query) > 200:
        raise ApiError(400, "q is longer than 200 characters")
    return jsonify({"q": query, "items": service.search(query, limit or 20)})


@bp.get("/movies/<movie>")
def movie(movie: str) -> Any:
    try:
        return jsonify(_service().movie(_path_id(movie, "movie")))
    except UnknownIdError as exc:
        raise _not_found(exc) from None


@bp.get("/users")
def users() -> Any:
    """A sample of known users for the page's picker: the most active first."""
    return jsonify(_service().sample_users(_int_arg("limit", 20, 1, MAX_K)))


@bp.get("/users/<user>")
def user(user: str) -> Any:
    try:
        return jsonify(_service().user(_path_id(user, "user")))
    except UnknownIdError as exc:
        raise _not_found(exc) from None


# ---------------------------------------------------------------- feedback (issue 16)
def _feedback() -> FeedbackHook:
    return current_app.extensions["reco_feedback"]


def _on_grid(value: float, low: float, step: float) -> bool:
    steps = (value - low) / step
    return abs(steps - round(steps)) < 1e-9


@bp.post("/users/<user>/ratings")
def store_ratings(user: str) -> Any:
    """Store ratings in one transaction; unknown movies are listed, not stored."""
    service = _service()
    user_id = _path_id(user, "user")
    store = _feedback().require()
    movies, values, stamps = _ratings_body(service)  # duplicates: the newest stays
    low, high = service.rating_scale
    step = service.rating_step
    off = [value for value in values if not _on_grid(value, low, step)]
    if off:
        raise ApiError(400, f"ratings must be on the scale's grid ({low} to {high} in steps "
                            f"of {step}), got {off[0]!r}")
    when = stamps or [int(time.time())] * len(movies)
    known = service.known_movies(movies)
    keep = [n for n, ok in enumerate(known) if ok]
    written = store.put_ratings(user_id, [movies[n] for n in keep], [values[n] for n in keep],
                                [when[n] for n in keep])
    stored = set(written)
    body = {"stored": len(written),
            "ignored_unknown_movies": sorted({m for m, ok in zip(movies, known) if not ok}),
            # a rating older than the one stored for that movie does not replace it
            "ignored_older": sorted(movies[n] for n in keep if movies[n] not in stored)}
    return jsonify(body), 201


@bp.get("/users/<user>/ratings")
def list_ratings(user: str) -> Any:
    service = _service()
    return jsonify(_feedback().ratings(service, _path_id(user, "user")))


@bp.delete("/users/<user>/ratings/<movie>")
def delete_rating(user: str, movie: str) -> Any:
    user_id, movie_id = _path_id(user, "user"), _path_id(movie, "movie")
    if not _feedback().require().delete_rating(user_id, movie_id):
        raise ApiError(404, f"no stored rating of movie {movie_id} by user {user_id}",
                       "not_found")
    return "", 204


@bp.post("/users")
def new_user() -> Any:
    """A new person's id: above every trained user's and every id handed out before
    (the database allocates it, so two workers never hand out the same)."""
    service = _service()
    return jsonify({"user_id": _feedback().require().allocate_user(service.max_user_id + 1)}), 201


@bp.get("/stats")
def stats() -> Any:
    service = _service()
    window = _int_arg("window", 86400, 1, MAX_STATS_WINDOW)
    k = _int_arg("k", 10, 1, MAX_K)
    return jsonify(_feedback().stats(service, window, k))
@bp.get("/users/<user>/movies/<movie>")
def user_movie(user: str, movie: str) -> Any:
    """P(like) of one pair, the predicted rating, the user's rating if any, and why."""
    service = _service()
    user_id, movie_id = _path_id(user, "user"), _path_id(movie, "movie")
    try:  # a person the feedback store knows is folded in with their stored ratings
        return jsonify(service.like(user_id, movie_id, _feedback().stored_pairs(user_id)))
    except UnknownIdError as exc:
        raise _not_found(exc) from None


@bp.get("/")
def page() -> Any:
    return send_from_directory(WEB_DIR, "index.html")


@bp.get("/favicon.ico")
def favicon() -> Any:
    """Browsers ask for it whatever the page links: the page's SVG icon, not a 404."""
    return send_from_directory(WEB_DIR, "favicon.svg", mimetype="image/svg+xml",
                               max_age=86400)


@bp.get("/openapi.json")
def openapi() -> Any:
    service = _holder().service  # the genres, scale and flags of the model served now
    if service is None:
        return jsonify(openapi_spec())
    return jsonify(openapi_spec(service.genres, service.rating_scale, service.has_family_flag,
                                service.rating_step))


@bp.get("/livez")
def livez() -> Any:
    """Liveness: the process answers (says nothing about the model; see /health)."""
    return jsonify({"status": "alive"})


@bp.get("/health")
def health() -> Any:
    """Readiness: 200 only when a verified model is loaded and answers a recommendation."""
    holder = _holder()
    service = holder.service
    g.service = service
    lifecycle = holder.status(service)
    if lifecycle["rejected"] is not None:  # a reason reaches the client: filtered as errors are
        lifecycle["rejected"] = {**lifecycle["rejected"],
                                 "reason": _public(lifecycle["rejected"]["reason"])}
    if service is None:
        return _error(503, "artifacts_unavailable", holder.error or "model not loaded",
                      status="unavailable", **lifecycle)
    started = time.perf_counter()
    try:
        smoke = service.smoke()
    except Exception:
        log.exception("[%s] smoke recommendation failed on version %s", _request_id(),
                      service.version)
        return _error(503, "model_unhealthy", "the smoke recommendation failed",
                      status="unavailable", **lifecycle)
    manifest = service.manifest
    return jsonify(
        {
            "status": "ok",
            **lifecycle,
            "format_version": manifest.get("format_version"),
            "data": {key: (manifest.get("data") or {}).get(key)
                     for key in ("layout", "fingerprint")},
            "row_counts": manifest.get("row_counts", {}),
            "smoke": {**smoke, "ms": round((time.perf_counter() - started) * 1000, 2)},
        }
    )


def _reload_seconds(app: Flask) -> float:
    raw = app.config.get("RELOAD_SECONDS")
    if raw is None:
        raw = os.environ.get("RECO_RELOAD_SECONDS", "0" if app.testing else "2")
    try:
        seconds = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"RECO_RELOAD_SECONDS must be a number of seconds, got {raw!r}") \
            from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"RECO_RELOAD_SECONDS must be 0 or more, got {raw!r}")
    return seconds


def _on_sighup(holder: ModelHolder) -> None:
    """SIGHUP checks the store at once (in this process: a gunicorn worker, or flask run;
    SIGHUP to gunicorn's master restarts the workers gracefully instead, which loads the
    current version too)."""
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGHUP)
    if previous not in (signal.SIG_DFL, signal.SIG_IGN, None):
        return  # someone else's handler (a test runner, an embedding app): leave it

    def handler(signum: int, frame: Any) -> None:
        holder.wake()

    signal.signal(signal.SIGHUP, handler)


def _feedback_url(app: Flask) -> str:
    """The feedback store: ``FEEDBACK``, else ``$RECO_FEEDBACK_URL``, else the SQLite file
    data/feedback.sqlite3 beside this file (in memory when testing); "none" turns it off."""
    url = app.config.get("FEEDBACK") or os.environ.get("RECO_FEEDBACK_URL")
    if url:
        return str(url)
    if app.testing:
        return ":memory:"
    return str(Path(__file__).resolve().parent / "data" / "feedback.sqlite3")


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app.

    Config: ``ARTIFACTS`` (a store or one version; default ``$RECO_ARTIFACTS``, else
    ``artifacts/``), ``RELOAD_SECONDS`` (how often to look for a new current version;
    default ``$RECO_RELOAD_SECONDS``, else 2; 0 when testing; 0 turns polling off),
    ``VERIFIED`` (default ``$RECO_VERIFIED``: the version scripts/serve.py verified before
    starting the workers, whose first load skips the repeated sha256 pass), ``FEEDBACK``
    (the feedback store's URL: :func:`_feedback_url`).
    """
    app = Flask(__name__, static_folder=str(WEB_DIR), static_url_path="/static")
    # "/recommend//1" answers a JSON 404, not an HTML redirect to "/recommend/1"
    app.url_map.merge_slashes = False
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.config.from_mapping(ARTIFACTS=os.environ.get("RECO_ARTIFACTS", "artifacts"),
                            MAX_CONTENT_LENGTH=MAX_BODY_BYTES)
    app.config.update(config or {})
    # scripts/serve.py verified this version byte for byte just before starting gunicorn
    verified = app.config.get("VERIFIED", os.environ.get("RECO_VERIFIED"))
    holder = ModelHolder(Path(app.config["ARTIFACTS"]), poll_seconds=_reload_seconds(app),
                         verified=verified)
    if not holder.load():
        # Start anyway, so /health can say what is wrong and a new version can still be
        # picked up; model routes answer 503. The path itself goes to the log only.
        log.error("no model served from %s: %s", app.config["ARTIFACTS"], holder.error)
    holder.start()
    if holder.poll_seconds > 0:
        _on_sighup(holder)
    app.extensions["reco"] = holder
    app.extensions["reco_feedback"] = FeedbackHook(_feedback_url(app))
    app.register_blueprint(bp)

    @app.before_request
    def _name_request() -> None:
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if _REQUEST_ID.match(given) else secrets.token_hex(8)

    @app.after_request
    def _stamp(response: Any) -> Any:
        response.headers["X-Request-Id"] = _request_id()
        service = g.get("service") or holder.service
        if service is not None and service.version:
            response.headers["X-Model-Version"] = service.version
        return response

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> ResponseReturnValue:
        return _error(exc.status, exc.name, exc.message)

    @app.errorhandler(FeedbackUnavailableError)
    @app.errorhandler(FeedbackSchemaError)
    def _feedback_error(exc: Exception) -> ResponseReturnValue:
        # the message is ours (the driver's went to the log); nothing was half-written:
        # every write is one transaction
        response = _error(503, "feedback_unavailable", str(exc))
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> ResponseReturnValue:
        name = (exc.name or "error").lower().replace(" ", "_")
        response = _error(exc.code or 500, name, exc.description or "")
        for header, value in exc.get_headers():  # Allow on a 405, Retry-After, ...
            if header.lower() not in ("content-type", "content-length"):
                response.headers[header] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> ResponseReturnValue:
        log.exception("[%s] unhandled error on %s %s", _request_id(), request.method,
                      request.path)
        return _error(500, "internal_error", "internal error; see the server log for this "
                                             "request id")

    return app
