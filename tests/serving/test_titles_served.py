"""The title index a version stores (``titles.npz``), as the service loads and serves it."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from reco.artifacts import model_dir
from reco.exceptions import ArtifactError
from reco.npz import load_npz, save_npz
from reco.serving.service import RecoService
from tests.artifact_tools import current, manifest_of, reseal


def _copy(trained: Path, tmp_path: Path) -> Path:
    out = tmp_path / "store"
    shutil.copytree(trained, out, symlinks=True)
    return out


def test_a_version_stores_its_title_index_and_the_service_loads_it(
        trained: Path, caplog: pytest.LogCaptureFixture):
    assert model_dir.TITLES in manifest_of(current(trained))["files"]
    with caplog.at_level(logging.INFO):
        service = RecoService.load(trained)
    messages = [r.getMessage() for r in caplog.records]
    assert any("search index" in m and "loaded in" in m for m in messages)
    assert not any("building it" in m for m in messages)
    built = model_dir.title_index(service.catalog)
    assert service._search is not None
    assert service._search.display == built.display
    for query in ["the", "a", "movie", "x"]:
        assert service.search(query, 10) == [service._movie_at(int(p)) for p in
                                             built.search(query, 10).positions]


def test_a_version_without_one_builds_it_at_load(trained: Path, tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture):
    store = _copy(trained, tmp_path)
    version = current(store)
    (version / model_dir.TITLES).unlink()
    reseal(version)
    with caplog.at_level(logging.INFO):
        service = RecoService.load(store)
    assert any("building it" in r.getMessage() for r in caplog.records)
    stored = RecoService.load(trained)
    assert service._columns["display_title"] == stored._columns["display_title"]
    assert service.search("the", 20) == stored.search("the", 20)


def test_an_index_of_other_movies_is_refused(trained: Path, tmp_path: Path):
    store = _copy(trained, tmp_path)
    version = current(store)
    state = dict(load_npz(version / model_dir.TITLES))
    state["movie_ids"] = state["movie_ids"] + 1
    (version / model_dir.TITLES).unlink()
    save_npz(version / model_dir.TITLES, **state)
    reseal(version)
    with pytest.raises(ArtifactError, match="titles.npz: its movies are not the catalog's") \
            as error:
        RecoService.load(store)
    assert str(tmp_path) not in str(error.value)


def test_a_damaged_index_is_an_artifact_error_naming_the_file(trained: Path, tmp_path: Path):
    store = _copy(trained, tmp_path)
    version = current(store)
    state = dict(load_npz(version / model_dir.TITLES))
    state["postings"] = np.asarray(state["postings"]) + 1_000_000
    (version / model_dir.TITLES).unlink()
    save_npz(version / model_dir.TITLES, **state)
    reseal(version)
    with pytest.raises(ArtifactError, match=r"^titles.npz: could not be loaded"):
        RecoService.load(store)


def test_movies_route_shows_display_titles_and_finds_them(trained: Path):
    from api import create_app

    client = create_app({"ARTIFACTS": str(trained), "TESTING": True}).test_client()
    service = client.application.extensions["reco"].service
    movie = client.get("/movies/1").get_json()
    assert {"title", "display_title", "alternate_titles", "year"} <= set(movie)
    assert movie["title"].endswith(f"({movie['year']})")
    assert str(movie["year"]) not in movie["display_title"]
    # every title, typed as shown (reading order, any case), finds its movie first or
    # tied with another movie of the same display title
    for row in range(0, service.catalog.height, 7):
        shown = service._movie_at(row)
        items = client.get("/movies", query_string={
            "q": shown["display_title"].upper(), "limit": 100}).get_json()["items"]
        same = [i["movie_id"] for i in items if i["display_title"] == shown["display_title"]]
        assert items[0]["display_title"] == shown["display_title"]
        assert shown["movie_id"] in same
