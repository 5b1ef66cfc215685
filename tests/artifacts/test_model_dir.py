"""reco.artifacts.model_dir: the trained model's directory, written and read in one place."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from api import create_app
from reco.artifacts import manifest as art
from reco.artifacts.model_dir import load_model, save_model
from reco.data.synthetic import SyntheticConfig, generate
from reco.exceptions import ArtifactError
from reco.ranking.hybrid import HybridRecommender
from reco.serving import RecoService
from tests.artifact_tools import reseal
from tests.ranking.test_hybrid import SMALL

FILES = {"manifest.json", "cf.npz", "rating.npz", "popular.npz", "content.npz", "item.npz",
         "context.npz", "store.npz", "titles.npz",
         "ranker.json", "like_model.json", "catalog.parquet", "features/users.parquet",
         "features/movies.parquet", "features/user_genres.parquet"}


@pytest.fixture(scope="module")
def data():
    return generate(SyntheticConfig(n_users=150, n_movies=200, n_ratings=9_000, seed=3))


@pytest.fixture(scope="module")
def model(data) -> HybridRecommender:
    return HybridRecommender(SMALL).fit(data.ratings, data.movies, tags=data.tags, links=data.links)


@pytest.fixture(scope="module")
def catalog(data) -> pl.DataFrame:
    # an optional column, as the family flag adds one
    movies = data.movies.select("movie_id", "title", "year", "genres")
    return movies.with_columns(family=(pl.col("movie_id") % 3 == 0).cast(pl.Float64))


@pytest.fixture(scope="module")
def saved(model, catalog, tmp_path_factory) -> Path:
    return save_model(model, tmp_path_factory.mktemp("model"), catalog=catalog,
                      manifest={"note": {"by": "test"}})


def _files(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()}


def _copy(saved: Path, tmp_path: Path) -> Path:
    """A copy of the version, as a store of its own (its current version)."""
    shutil.copytree(saved.parent.parent, tmp_path / "store", symlinks=True)
    return tmp_path / "store" / "versions" / saved.name


def test_save_then_load_gives_identical_answers(model, data, saved):
    loaded, _, manifest = load_model(saved)
    users = data.ratings["user_id"].unique().sort().to_numpy()[:25]
    a_ids, a_scores = model.recommend_batch(users, 10)
    b_ids, b_scores = loaded.recommend_batch(users, 10)
    assert np.array_equal(a_ids, b_ids) and np.array_equal(a_scores, b_scores)
    movies = np.roll(data.ratings["movie_id"].to_numpy()[:100], 3)
    pairs = data.ratings["user_id"].to_numpy()[:100]
    assert np.array_equal(model.predict_like(pairs, movies), loaded.predict_like(pairs, movies))
    new = ([int(m) for m in movies[:4]], [5.0, 4.0, 2.0, 4.5])
    assert np.array_equal(model.recommend_new_user(*new, k=10)[0],
                          loaded.recommend_new_user(*new, k=10)[0])
    assert loaded.window_ == model.window_ and loaded.config == model.config
    assert manifest["note"] == {"by": "test"} and manifest["timings_seconds"]["save"] >= 0


def test_the_catalog_is_the_one_movie_table(model, catalog, saved):
    assert _files(saved) == FILES  # no stage_movies.parquet beside the catalog
    manifest = art.read_manifest(saved)
    assert manifest["format_version"] == art.FORMAT_VERSION
    assert manifest["catalog"] == {"path": "catalog.parquet", "rows": catalog.height,
                                   "columns": catalog.columns}
    loaded, stored, _ = load_model(saved)
    assert stored.equals(catalog)
    # stage one gets back exactly the movies it was fitted on, from the catalog
    columns = ["movie_id", "genres", "year"]
    assert loaded.stage_.movies.sort("movie_id").equals(
        model.stage_.movies.select(columns).sort("movie_id"))


def test_saving_publishes_a_new_version_and_leaves_the_old_one(model, catalog, saved, tmp_path):
    store_root = _copy(saved, tmp_path).parent.parent
    before = {p: p.read_bytes() for p in store_root.rglob("*") if p.is_file()}
    second = save_model(model, store_root, catalog=catalog)
    assert second.parent == store_root / "versions" and second.name != saved.name
    assert (store_root / "current").read_text().strip() == second.name
    for path, data in before.items():  # nothing of the earlier version changed
        if path.name != "current":
            assert path.read_bytes() == data
    assert _files(second) == FILES and load_model(store_root)[2]["version"] == second.name


def test_a_catalog_that_disagrees_with_the_fit_is_refused(model, catalog, tmp_path):
    relabelled = catalog.with_columns(
        pl.when(pl.col("movie_id") == catalog["movie_id"][0]).then(pl.lit(["Western"]))
        .otherwise(pl.col("genres")).alias("genres"))
    with pytest.raises(ValueError, match="differ from the movies stage one was fitted on"):
        save_model(model, tmp_path, catalog=relabelled)
    with pytest.raises(ValueError, match="lacks columns"):
        save_model(model, tmp_path, catalog=catalog.drop("title"))
    assert not (tmp_path / "versions").exists() or not any((tmp_path / "versions").iterdir())


@pytest.mark.parametrize("name", ["ranker.json", "cf.npz", "content.npz", "context.npz",
                                  "catalog.parquet", "features/user_genres.parquet"])
def test_a_missing_file_is_named_without_the_directory(saved, tmp_path, name):
    broken = _copy(saved, tmp_path)
    (broken / name).unlink()
    with pytest.raises(ArtifactError) as caught:
        load_model(broken)
    message = str(caught.value)
    assert name in message and str(tmp_path) not in message


def test_a_changed_file_is_refused_even_when_it_reads(saved, tmp_path):
    broken = _copy(saved, tmp_path)
    (broken / "rating.npz").write_bytes(b"not a zip")
    with pytest.raises(ArtifactError, match="rating.npz: .*bytes") as caught:
        load_model(broken)
    assert str(tmp_path) not in str(caught.value)
    shutil.copy(saved / "rating.npz", broken / "rating.npz")
    data = (broken / "like_model.json").read_bytes()
    (broken / "like_model.json").write_bytes(data.replace(b'"', b"'", 1))  # same size
    with pytest.raises(ArtifactError, match="like_model.json: sha256") as caught:
        load_model(broken)
    assert str(tmp_path) not in str(caught.value)


def test_an_unreadable_file_behind_good_checksums_is_named(saved, tmp_path):
    broken = _copy(saved, tmp_path)
    (broken / "like_model.json").write_text("{")
    broken = reseal(broken)
    with pytest.raises(ArtifactError, match="like_model.json: ") as caught:
        load_model(broken)
    assert "\n" not in str(caught.value) and str(tmp_path) not in str(caught.value)


def test_the_api_answers_503_naming_the_file_not_the_path(saved, tmp_path):
    broken = _copy(saved, tmp_path)
    (broken / "ranker.json").unlink()
    client = create_app({"ARTIFACTS": str(broken.parent.parent), "TESTING": True}).test_client()
    response = client.get("/recommend/1")
    assert response.status_code == 503
    message = response.get_json()["error"]["message"]
    assert "ranker.json" in message and str(tmp_path) not in message
    health = client.get("/health")
    assert health.status_code == 503 and health.get_json()["status"] == "unavailable"


@pytest.mark.parametrize("version, match", [(1, "format version 1.*again"),
                                            (2, "format 2.*migrate")])
def test_an_old_format_says_what_to_do(saved, tmp_path, version, match):
    old = tmp_path / "old"
    shutil.copytree(saved, old)
    manifest = json.loads((old / "manifest.json").read_text())
    manifest["format_version"] = version
    (old / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=match):
        load_model(old)  # told what to do, not that it lacks checksums


def test_a_format_2_directory_migrates_into_a_store(model, saved, tmp_path):
    old = tmp_path / "old"  # today's layout before the store: files + manifest, no checksums
    shutil.copytree(saved, old)
    manifest = json.loads((old / "manifest.json").read_text())
    manifest["format_version"] = 2
    del manifest["files"]
    (old / "manifest.json").write_text(json.dumps(manifest))
    before = _files(old)
    version = art.migrate(old, tmp_path / "store")
    assert _files(old) == before  # only read
    loaded, _, loaded_manifest = load_model(tmp_path / "store")
    assert loaded_manifest["version"] == version.name
    assert loaded_manifest["migrated_from_format"] == 2
    users = model.user_map_.ids[:10]
    assert np.array_equal(loaded.recommend_batch(users, 5)[0], model.recommend_batch(users, 5)[0])


def test_features_only_and_foreign_feature_order_are_refused(saved, tmp_path):
    other = _copy(saved, tmp_path)
    manifest = art.read_manifest(other)
    manifest["model"]["like_features"] = manifest["model"]["like_features"][::-1]
    other = reseal(other, manifest)
    with pytest.raises(ArtifactError, match="like_features"):
        load_model(other)
    del manifest["model"]
    other = reseal(other, manifest)
    with pytest.raises(ArtifactError, match="features only"):
        load_model(other)


def test_the_service_loads_through_model_dir(saved):
    service = RecoService.load(saved)
    assert service.catalog.height == pl.read_parquet(saved / "catalog.parquet").height
    assert service.has_family_flag
    user = int(service.model.user_map_.ids[0])
    assert len(service.recommend(user, 5)["items"]) == 5


def test_the_content_models_ratings_are_built_only_when_read(model, saved):
    """The content model's ratings matrix (cf's over its own movies) is deferred at load:
    requests never read it; reading it gives what the fit had."""
    loaded, _, _ = load_model(saved)
    content = loaded.stage_.content
    assert "_pending_seen" in content.__dict__ and "seen_" not in content.__dict__
    user = int(loaded.user_map_.ids[0])
    loaded.recommend(user, k=5)
    loaded.similar_items(int(loaded.item_map_.ids[0]), k=5)
    assert "_pending_seen" in content.__dict__
    fitted = model.stage_.content.seen_
    assert (content.seen_ != fitted).nnz == 0 and content.seen_.shape == fitted.shape
    assert "_pending_seen" not in content.__dict__ and "seen_" in content.__dict__


def test_a_deferred_ratings_matrix_of_the_wrong_shape_is_refused(saved, monkeypatch):
    import scipy.sparse as sp

    from reco.artifacts import model_dir

    monkeypatch.setattr(model_dir, "_widened",
                        lambda cf: lambda items: sp.csr_matrix((1, len(items))))
    loaded, _, _ = load_model(saved)
    with pytest.raises(ArtifactError, match="shared ratings matrix"):
        _ = loaded.stage_.content.seen_


def test_a_version_reads_no_feature_table_at_load(model, saved, monkeypatch):
    """store.npz holds what the feature store computes from the tables: a load checks the
    tables' schemas only and reads one when something asks for it (a user's page)."""
    reads: list[str] = []
    original = art.read_table

    def counted(version, name, manifest):
        reads.append(name)
        return original(version, name, manifest)

    monkeypatch.setattr(art, "read_table", counted)
    loaded, _, _ = load_model(saved)
    assert [name for name in reads if name != art.CATALOG] == []
    user = int(loaded.user_map_.ids[3])
    assert loaded.recommend(user, k=10)[0].tolist() == model.recommend(user, k=10)[0].tolist()
    assert [name for name in reads if name != art.CATALOG] == []
    assert loaded.stage_.tables.user_genres.equals(model.stage_.tables.user_genres)
    assert [name for name in reads if name != art.CATALOG] == ["user_genres"]
    for name, value in model.stage_.store.state().items():
        assert np.array_equal(loaded.stage_.store.state()[name], value,
                              equal_nan=value.dtype.kind == "f"), name


def test_the_unit_item_vectors_are_read_not_computed(model, saved, tmp_path):
    """store.npz's unit vectors are the models' (mapped read-only: computed ones would be
    each worker's own, writable copy); without them they are computed, the same."""
    loaded, _, _ = load_model(saved)
    for part in ("cf", "content"):
        unit = getattr(loaded.stage_, part).unit_item_vectors()
        assert not unit.flags.writeable
        assert np.array_equal(unit, getattr(model.stage_, part).unit_item_vectors())
    version = _copy(saved, tmp_path)
    import reco.npz as npz

    arrays = {k: np.asarray(v) for k, v in npz.load_npz(version / "store.npz").items()
              if k not in ("cf_unit", "content_unit")}
    (version / "store.npz").unlink()
    npz.save_npz(version / "store.npz", **arrays)
    older, _, _ = load_model(reseal(version))
    for part in ("cf", "content"):
        unit = getattr(older.stage_, part).unit_item_vectors()
        assert unit.flags.writeable
        assert np.array_equal(unit, getattr(model.stage_, part).unit_item_vectors())


def test_a_version_without_store_npz_builds_the_store_from_its_tables(model, saved, tmp_path):
    version = _copy(saved, tmp_path)
    (version / "store.npz").unlink()
    version = reseal(version)
    loaded, _, _ = load_model(version)
    assert loaded.stage_.store_state is None
    for name, value in model.stage_.store.state().items():
        assert np.array_equal(loaded.stage_.store.state()[name], value,
                              equal_nan=value.dtype.kind == "f"), name
    user = int(loaded.user_map_.ids[3])
    assert loaded.recommend(user, k=10)[0].tolist() == model.recommend(user, k=10)[0].tolist()


def test_a_table_read_on_first_use_that_fails_is_a_json_error_not_a_leak(saved, tmp_path):
    """A table damaged behind a valid footer and re-sealed loads (its schema is fine) and
    fails when a user's page first reads it: a JSON 500 naming nothing of the disk; the
    recommendations, which never read it, still answer."""
    version = _copy(saved, tmp_path)
    path = version / "features" / "user_genres.parquet"
    data = bytearray(path.read_bytes())
    middle = slice(8, len(data) // 2)  # the row groups: not the magic, not the footer
    data[middle] = bytes(len(data[middle]))
    path.write_bytes(bytes(data))
    version = reseal(version)
    client = create_app({"ARTIFACTS": str(version.parent.parent), "TESTING": True}).test_client()
    user = client.get("/users?limit=1").get_json()["users"][0]["user_id"]
    assert client.get(f"/recommend/{user}").status_code == 200
    response = client.get(f"/users/{user}")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert str(tmp_path) not in body and "Traceback" not in body and "parquet" not in body.lower()
