"""reco's HTTP API: a Flask application factory.

    flask --app api run                      # development
    RECO_ARTIFACTS=artifacts flask --app api run

Artifacts are read once, at start; routes live on one blueprint; every error is JSON
with a proper status code, never a stack trace. Model code lives in ``reco``, not here.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify
from werkzeug.exceptions import HTTPException

from reco.artifacts import read_manifest
from reco.exceptions import ArtifactError

log = logging.getLogger(__name__)
bp = Blueprint("reco", __name__)


class ApiError(Exception):
    """An error answered as ``{"error": {"status", "name", "message"}}``."""

    def __init__(self, status: int, message: str, name: str = "bad_request") -> None:
        super().__init__(message)
        self.status, self.message, self.name = status, message, name


def _error(status: int, name: str, message: str) -> Any:
    response = jsonify({"error": {"status": status, "name": name, "message": message}})
    response.status_code = status
    return response


def _state() -> dict[str, Any]:
    return current_app.extensions["reco"]


@bp.get("/health")
def health() -> Any:
    state = _state()
    if state["manifest"] is None:
        raise ApiError(503, state["error"], "artifacts_unavailable")
    manifest = state["manifest"]
    return jsonify(
        {
            "status": "ok",
            "artifacts": state["artifacts"],
            "format_version": manifest["format_version"],
            "created_at": manifest.get("created_at"),
            "data": {
                key: manifest.get("data", {}).get(key) for key in ("layout", "fingerprint")
            },
            "row_counts": manifest.get("row_counts", {}),
        }
    )


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app. The artifact directory comes from ``config["ARTIFACTS"]``, else the
    ``RECO_ARTIFACTS`` environment variable, else ``artifacts/``."""
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.config.from_mapping(ARTIFACTS=os.environ.get("RECO_ARTIFACTS", "artifacts"))
    app.config.update(config or {})
    artifacts = str(Path(app.config["ARTIFACTS"]))
    state: dict[str, Any] = {"artifacts": artifacts, "manifest": None, "error": None}
    try:
        state["manifest"] = read_manifest(artifacts)
    except ArtifactError as exc:
        # Start anyway so /health can say what is wrong; model routes will answer 503.
        state["error"] = str(exc)
        log.error("artifacts not loaded: %s", exc)
    app.extensions["reco"] = state
    app.register_blueprint(bp)

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Any:
        return _error(exc.status, exc.name, exc.message)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        name = (exc.name or "error").lower().replace(" ", "_")
        return _error(exc.code or 500, name, exc.description or "")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        log.exception("unhandled error")
        return _error(500, "internal_error", "internal error; see the server log")

    return app
