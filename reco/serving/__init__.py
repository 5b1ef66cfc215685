"""Serving: a trained artifact directory loaded once, answers for the API and the page.

:class:`ModelHolder` keeps the served version and swaps in each new verified one;
:class:`RecoService` loads and indexes one version (recommend, similar, search, P(like)
with reasons); :func:`openapi_spec` describes the routes; :data:`WEB_DIR` holds the page's
static files. Serving may import the core modules, :mod:`reco.artifacts`, :mod:`reco.ranking`
(the fitted model's types), :mod:`reco.models.base` and the feedback store of
:mod:`reco.feedback`; never the pipelines, the text models or evaluation. ``api.py`` imports
this package and :mod:`reco.exceptions` only, so what it needs is re-exported here.
"""

from pathlib import Path

from reco.artifacts.manifest import read_manifest
from reco.feedback import FeedbackSchemaError, FeedbackUnavailableError
from reco.serving.feedback import FeedbackHook
from reco.serving.openapi import openapi_spec
from reco.serving.reload import ModelHolder
from reco.serving.service import Filters, RecoService

#: The page's static files (index.html, app.js, style.css), shipped as package data.
WEB_DIR = Path(__file__).resolve().parent / "web"

__all__ = ["WEB_DIR", "FeedbackHook", "FeedbackSchemaError", "FeedbackUnavailableError",
           "Filters", "ModelHolder", "RecoService", "openapi_spec", "read_manifest"]
