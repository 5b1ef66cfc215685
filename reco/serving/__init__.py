"""Serving: a trained artifact directory loaded once, answers for the API and the page.

:class:`ModelHolder` keeps the served version and swaps in each new verified one;
:class:`RecoService` loads and indexes one version (recommend, similar, search, P(like)
with reasons); :func:`openapi_spec` describes the routes; :data:`WEB_DIR` holds the page's
static files; :mod:`reco.serving.front` is the buffering front that faces clients. Serving
may import the core modules, :mod:`reco.artifacts`, :mod:`reco.ranking` (the fitted model's
types), :mod:`reco.models.base` and the feedback store of :mod:`reco.data.feedback`; never the
pipelines, the text models or evaluation. ``api.py`` imports this package and
:mod:`reco.exceptions` only, so what it needs is re-exported here.

The re-exports are imported on first use (PEP 562), so the front, which imports
:mod:`reco.serving.front` and :mod:`reco.serving.limits` only, does not pay for the models'
libraries (3.6 s and their memory in a process that only moves bytes).
"""

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from reco.serving.limits import MAX_BODY_BYTES, MAX_JSON_DEPTH, MAX_K, MAX_RATINGS

#: The page's static files (index.html, app.js, style.css), shipped as package data.
WEB_DIR = Path(__file__).resolve().parent / "web"

_EXPORTS = {
    "read_manifest": "reco.artifacts.manifest",
    "openapi_spec": "reco.serving.openapi",
    "ModelHolder": "reco.serving.reload",
    "Filters": "reco.serving.service",
    "RecoService": "reco.serving.service",
    "FeedbackHook": "reco.serving.feedback",
    "FeedbackSchemaError": "reco.data.feedback",
    "FeedbackUnavailableError": "reco.data.feedback",
}

if TYPE_CHECKING:
    from reco.artifacts.manifest import read_manifest
    from reco.data.feedback import FeedbackSchemaError, FeedbackUnavailableError
    from reco.serving.feedback import FeedbackHook
    from reco.serving.openapi import openapi_spec
    from reco.serving.reload import ModelHolder
    from reco.serving.service import Filters, RecoService


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'reco.serving' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = ["MAX_BODY_BYTES", "MAX_JSON_DEPTH", "MAX_K", "MAX_RATINGS", "WEB_DIR",
           "FeedbackHook", "FeedbackSchemaError", "FeedbackUnavailableError", "Filters",
           "ModelHolder", "RecoService", "openapi_spec", "read_manifest"]
