"""/openapi.json against the API itself, by schemathesis: every request the schema allows is
answered as documented (status, content type, body schema), none with a 5xx."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from api import create_app

schemathesis = pytest.importorskip("schemathesis")


@pytest.fixture(scope="module")
def app(trained):  # the session's artifacts (tests/conftest.py), read only
    return create_app({"ARTIFACTS": str(trained), "TESTING": True})


schema = schemathesis.pytest.from_fixture("openapi_schema")


@pytest.fixture(scope="module")
def openapi_schema(app):
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


@pytest.mark.slow  # about 10 s of generated requests
@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_conforms_to_its_schema(case):
    case.call_and_validate()


def test_the_schema_describes_the_served_model(app):
    spec = app.test_client().get("/openapi.json").get_json()
    service = app.extensions["reco"].service
    params = {p["name"]: p for p in spec["paths"]["/recommend/{user}"]["get"]["parameters"]}
    assert params["genre"]["schema"]["items"]["enum"] == service.genres
    assert ("family" in params) == service.has_family_flag
    low, high = service.rating_scale
    ratings = spec["components"]["schemas"]["Ratings"]["properties"]["ratings"]["oneOf"]
    assert ratings[0]["items"]["properties"]["rating"] == {"type": "number", "minimum": low,
                                                          "maximum": high}
    assert {"413", "415", "503"} <= set(spec["paths"]["/recommend"]["post"]["responses"])
