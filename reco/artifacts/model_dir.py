"""The trained two-stage model as a version of the artifact store: :func:`save_model`,
:func:`load_model`.

A version's files (format :data:`~reco.artifacts.manifest.FORMAT_VERSION`)::

    versions/<id>/
      manifest.json                 written last; lists every file below with its size,
                                    sha256 and array shapes (reco.artifacts.store)
      features/*.parquet            the stage's feature tables (reco.artifacts.manifest)
      catalog.parquet               movie_id, title, year, genres [+ genres_predicted, family]
      cf.npz                        implicit ALS, with the training ratings matrix
      rating.npz, popular.npz       share cf.npz's matrix (same ratings, same id maps)
      content.npz                   when the config uses content; its ratings matrix is
                                    cf.npz's widened to every movie with text, rebuilt
                                    at load
      item.npz                      the item-item model (EASE) when the config uses it;
                                    shares cf.npz's matrix too
      context.npz                   time popularity and recent items
      retrieval.npz                 when the catalog is large enough: the inverted lists
                                    of the CF and content item vectors a request
                                    searches (reco.ranking.retrieval)
      titles.npz                    the catalog's title search index and its titles
                                    in reading order (reco.ranking.search), so a server
                                    loads them instead of parsing every title at start
      ranker.json, like_model.json  XGBoost's JSON format

The movies table stage one reads (movie_id, genres, year: the genres after the text
models filled the missing ones) is the catalog's projection, so it is stored once, in
the catalog: :func:`save_model` checks the two agree and :func:`load_model` takes the
projection back.

:func:`load_model` verifies before it loads (every byte against the manifest, then every
learned array finite and of the model's shape), and any failure, whatever library would
have raised it, is one :class:`~reco.exceptions.ArtifactError` naming the file: a model
is loaded whole or not at all.

Per-model files keep their own format (:meth:`reco.models.base.Recommender.save`); this
module owns which files make the version and the manifest that lists them.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import polars as pl
import scipy.sparse as sp

from reco.artifacts import manifest as art
from reco.artifacts import store
from reco.columns import GENRE, GENRES, MOVIE_ID, MOVIES_SCHEMA, TITLE, USER_ID, YEAR
from reco.config import ConfigBase
from reco.exceptions import ArtifactError, ConfigError
from reco.features.tables import FeatureTables
from reco.features.temporal import RecentItems, TimePopularity
from reco.ids import IdMap
from reco.models.base import Recommender
from reco.models.content import ContentRecommender
from reco.models.ease import EASERecommender
from reco.models.interactions import Interactions
from reco.models.mf import ALSRecommender, SVDRecommender
from reco.models.popularity import PopularityConfig, PopularityRecommender
from reco.npz import load_npz, save_npz
from reco.ranking.booster import load_booster, save_booster
from reco.ranking.hybrid import HybridConfig, HybridRecommender
from reco.ranking.retrieval import VectorIndex, index_stage
from reco.ranking.schema import LIKE_FEATURES, MOVIE_COLUMNS, RANK_FEATURES, USER_COLUMNS
from reco.ranking.search import TitleIndex
from reco.ranking.stage_one import StageOne
from reco.ranking.user_state import PREF_COLUMNS

log = logging.getLogger(__name__)
T = TypeVar("T")

CF, RATING, POPULAR, CONTENT = "cf.npz", "rating.npz", "popular.npz", "content.npz"
ITEM = "item.npz"
CONTEXT = "context.npz"
RETRIEVAL = "retrieval.npz"
STORE = "store.npz"
TITLES = "titles.npz"
RANKER, LIKE_MODEL = "ranker.json", "like_model.json"
#: The columns of the catalog stage one reads, in the order StageOne.movies has them.
STAGE_MOVIE_COLUMNS = (MOVIE_ID, GENRES, YEAR)
CATALOG_COLUMNS = (MOVIE_ID, TITLE, YEAR, GENRES)


def model_section(model: HybridRecommender) -> dict[str, Any]:
    """The manifest's ``model`` entry: class, config, feature order, training windows."""
    return {
        "class": type(model).__name__,
        "config": model.config.to_dict(),
        "rank_features": list(RANK_FEATURES),
        "like_features": list(LIKE_FEATURES),
        "windows": getattr(model, "window_", {}),
    }


def served_catalog(catalog: pl.DataFrame, stage: StageOne) -> pl.DataFrame:
    """The catalog as a server shows it: sorted by movie id, with each movie's rating count
    (0 when it has none) and mean from the stage's movie table. The title index's rows are
    this frame's rows."""
    counts = stage.tables.movies.select(MOVIE_ID, "n_ratings", "rating_mean")
    return catalog.sort(MOVIE_ID).join(counts, on=MOVIE_ID, how="left").with_columns(
        pl.col("n_ratings").fill_null(0))


def title_index(served: pl.DataFrame) -> TitleIndex:
    """The title search index of a :func:`served_catalog`, its most rated movies first."""
    return TitleIndex.build(served[TITLE].to_list(),
                            served[YEAR].to_numpy(allow_copy=True).astype(float),
                            served["n_ratings"].to_numpy())


def load_titles(artifacts: str | Path, manifest: Mapping[str, Any],
                served: pl.DataFrame) -> TitleIndex | None:
    """The stored title index of the version :func:`load_model` returned ``manifest`` for
    (None when that version predates ``titles.npz``), checked against its
    :func:`served_catalog`; ``ArtifactError`` naming the file when it does not fit."""
    if TITLES not in (manifest.get("files") or {}):
        return None
    path = Path(artifacts)
    directory = store.ArtifactStore(path).version_path(str(manifest["version"])) \
        if store.is_store(path) else path
    return _relative(directory, lambda: _load_titles(directory / TITLES, served))


def _load_titles(path: Path, served: pl.DataFrame) -> TitleIndex:
    with _reading(TITLES):
        state = load_npz(path)
        ids = state.get("movie_ids")
        if ids is None or not np.array_equal(ids, served[MOVIE_ID].to_numpy()):
            raise ArtifactError(f"{TITLES}: its movies are not the catalog's")
        return TitleIndex.from_state(state)


def _check_catalog(catalog: pl.DataFrame, stage: StageOne) -> None:
    missing = [c for c in CATALOG_COLUMNS if c not in catalog.columns]
    if missing:
        raise ValueError(f"the catalog lacks columns {missing}; it needs {list(CATALOG_COLUMNS)}")
    if not catalog[MOVIE_ID].is_unique().all():
        raise ValueError("the catalog lists a movie id twice")
    # what load_model will hand stage one must be what it was fitted on, or the genre
    # features (and so the answers) of the loaded model would differ
    ours = catalog.select(STAGE_MOVIE_COLUMNS).sort(MOVIE_ID)
    fitted = stage.movies.select(STAGE_MOVIE_COLUMNS).sort(MOVIE_ID)
    if ours.schema != fitted.schema or not ours.equals(fitted):
        raise ValueError(
            "the catalog's movie_id, genres and year differ from the movies stage one was "
            "fitted on: build the catalog from the movies table given to fit (after the "
            "text models)")


def save_model(model: HybridRecommender, artifacts: str | Path, *, catalog: pl.DataFrame,
               manifest: Mapping[str, Any] | None = None, keep: int = store.DEFAULT_KEEP,
               make_current: bool = True) -> Path:
    """Publish a fitted model, its catalog and the manifest as a new version of the store
    ``artifacts``; return the version's directory.

    Parameters
    ----------
    model
        A fitted :class:`~reco.ranking.hybrid.HybridRecommender`.
    artifacts
        The artifact store (created if needed). The new version is written apart, sealed
        (sizes, sha256, array shapes) and only then made ``current`` by one atomic rename;
        nothing of an existing version is touched.
    catalog
        What serving shows: ``movie_id, title, year, genres`` and optional extra columns
        (``genres_predicted``, ``family``). Its ``movie_id, genres, year`` must be the
        movies the model was fitted on (checked), as they are not stored elsewhere.
    manifest
        Sections the caller adds to the manifest (data, config, metrics, ...). This
        function sets ``format_version``, ``created_at``, ``libraries``, ``platform``,
        ``model``, ``features``, ``catalog`` and ``files``, and adds the seconds the files
        took as ``timings_seconds["save"]``.
    keep
        How many versions to keep (older ones are deleted; never a current one).
    make_current
        False publishes the version without serving it (``scripts/artifacts.py use``
        makes it current later).

    Returns
    -------
    pathlib.Path
        ``artifacts/versions/<id>``.

    Raises
    ------
    NotFittedError
        The model is not fitted.
    ValueError
        The catalog lacks a column or disagrees with the fitted movies, or a learned
        array holds NaN or infinite values.
    ArtifactError
        ``artifacts`` is not a usable store (a symlink inside it, say).
    """
    model._check_fitted()
    if model.user_labels_ is not None or model.item_labels_ is not None:
        # the store keeps integer ids only (the serving layer and its API speak them)
        raise ArtifactError("a model fitted on string ids cannot be published to an artifact "
                            "store yet; map the ids to integers before fitting")
    stage = model.stage_
    _check_catalog(catalog, stage)
    target = store.ArtifactStore(artifacts)
    started = time.perf_counter()
    with target.stage() as staging:
        _write_files(model, staging.path, catalog)
        seconds = time.perf_counter() - started
        out = art.new_manifest()
        out.update(manifest or {})
        out["model"] = model_section(model)
        out["features"] = art.features_section(stage.tables)
        out[art.CATALOG] = art.table_section(catalog, art.CATALOG)
        out["timings_seconds"] = {**out.get("timings_seconds", {}), "save": round(seconds, 4)}
        version = staging.publish(out, store.CURRENT if make_current else None, keep)
    log.info("model saved as version %s in %.2fs", version.name, time.perf_counter() - started)
    return version


#: The manifest keys save_model writes itself (a republished version gets new ones).
_OWN_KEYS = ("format_version", "created_at", "libraries", "platform", "model", "features",
             "catalog", "files", "version")


def add_retrieval_index(artifacts: str | Path, *, keep: int = store.DEFAULT_KEEP) -> Path:
    """Publish the current version again with the retrieval index its config asks for
    (:mod:`reco.ranking.retrieval`), built from its own item vectors: for a version
    trained before the index existed. Nothing learned changes; the new version's
    manifest keeps the old one's sections and names it (``retrieval_index_of``).

    Raises
    ------
    ArtifactError
        The store has no servable current version, or its catalog is below the index's
        ``min_items`` (a small catalog is scanned whole), or retrieval is turned off.
    """
    model, catalog, manifest = load_model(artifacts)
    config = model.config.retrieval
    if not config.enabled:
        raise ArtifactError("the current version's config turns retrieval off "
                            "(retrieval.enabled is false): no index to build")
    started = time.perf_counter()
    indexes = index_stage(model.stage_, config)
    if indexes is None:
        raise ArtifactError(f"the current version's catalog ({len(model.item_map_):,} movies) "
                            f"is below retrieval.min_items ({config.min_items:,}): requests "
                            "scan it whole, no index is built")
    model.stage_.retrieval = indexes
    sections = {key: value for key, value in manifest.items() if key not in _OWN_KEYS}
    sections["retrieval_index_of"] = manifest.get("version")
    sections["timings_seconds"] = {**sections.get("timings_seconds", {}),
                                   "retrieval_index": round(time.perf_counter() - started, 4)}
    return save_model(model, artifacts, catalog=catalog, manifest=sections, keep=keep)


def _write_files(model: HybridRecommender, directory: Path, catalog: pl.DataFrame) -> None:
    stage = model.stage_
    for name, part in (("cf", stage.cf), ("rating", stage.rating_model),
                       ("popular", stage.popular), ("content", stage.content),
                       ("item", stage.item)):
        if part is not None:
            _check_finite(name, part._state())
    # the rating and popularity models share the CF model's ratings matrix (same ratings,
    # same id maps): it is stored once, in cf.npz
    stage.cf.save(directory / CF)
    stage.rating_model.save(directory / RATING, with_seen=False)  # type: ignore[union-attr]
    stage.popular.save(directory / POPULAR, with_seen=False)
    if stage.content is not None:
        # its matrix is cf.npz's widened to every movie with text: rebuilt at load, not
        # stored twice (it was most of content.npz)
        stage.content.save(directory / CONTENT, with_seen=False)
    if stage.item is not None:
        stage.item.save(directory / ITEM, with_seen=False)
    save_npz(directory / CONTEXT, **stage.time_popularity.state(), **stage.recent.state())
    # what the feature store computes from the tables, ready to map: a server's start
    # then reads no table (at 32M ratings about 1 s of each worker's)
    save_npz(directory / STORE, **stage.store.state())
    if stage.retrieval:
        spaces = _item_spaces(stage.cf, stage.content)
        save_npz(directory / RETRIEVAL, **{key: value for name, index in stage.retrieval.items()
                                           for key, value in index.state(
                                               name, spaces.get(name)).items()})
    served = served_catalog(catalog, stage)
    save_npz(directory / TITLES, movie_ids=served[MOVIE_ID].to_numpy(),
             **title_index(served).state())
    save_booster(model.ranker_, directory / RANKER)
    save_booster(model.like_model_, directory / LIKE_MODEL)
    art.write_feature_tables(directory, stage.tables)
    art.write_table(directory, art.CATALOG, catalog)


def _check_finite(name: str, arrays: Mapping[str, Any]) -> None:
    for key, value in arrays.items():
        array = np.asarray(value)
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise ValueError(f"the {name} model's {key} holds NaN or infinite values; "
                             "refusing to publish it")


def _relative(directory: Path, read: Callable[[], T]) -> T:
    """Run ``read``, naming files relative to ``directory`` in any ArtifactError: the
    message may reach an API response, where an absolute path is a leak."""
    try:
        return read()
    except ArtifactError as exc:
        # the readers below name ``directory / file``: keep the file, drop the directory
        message = str(exc).replace(f"{directory}{os.sep}", "").replace(str(directory), ".")
        raise ArtifactError(message) from exc


@contextmanager
def _reading(name: str) -> Iterator[None]:
    """Whatever a library raises while ``name`` is read becomes one ArtifactError naming
    the file (the library's words stay in the exception chain, for the log)."""
    try:
        yield
    except ArtifactError:
        raise
    except Exception as exc:  # XGBoost, Polars, NumPy: any of them, on any corruption
        raise ArtifactError(f"{name}: could not be loaded ({_kind(exc)})") from exc


def _kind(exc: BaseException) -> str:
    if isinstance(exc, (KeyError, IndexError)):
        return "a part is missing"
    if isinstance(exc, (ValueError, TypeError)):
        return "a value has the wrong type or shape"
    if isinstance(exc, MemoryError):
        return "out of memory"
    return "unreadable"


def load_model(artifacts: str | Path, *, verify: bool = True, checksums: bool = True
               ) -> tuple[HybridRecommender, pl.DataFrame, dict[str, Any]]:
    """Load the model, the catalog and the manifest :func:`save_model` published.

    ``artifacts``: a store (its ``current`` version is loaded) or one version directory.
    The version is verified first (:func:`reco.artifacts.store.verify`; ``checksums=False``
    leaves out only its sha256 pass, for a caller whose parent process verified the same
    version; ``verify=False`` skips it all); the content checks on the loaded arrays always
    run. The returned manifest carries its ``version`` id.

    Raises
    ------
    ArtifactError
        No such version, another format version (format 2: migrate it), features only
        (no model), another feature order, a file missing, changed or unreadable, or a
        learned array that is not finite or not of the model's shape; the message names
        the file relative to the version.
    """
    version = store.resolve(artifacts)
    if not os.path.lexists(version) and store.is_store(artifacts):
        # the pointer is what is wrong, not a directory the caller never named
        raise ArtifactError(f"{store.CURRENT}: names version {version.name}, which is not "
                            "in the store")
    if verify:
        # verification opens every .npz too (its array headers), and NumPy's and zipfile's
        # errors name the file by the path it was given: an absolute one
        manifest = _relative(version,
                             lambda: art.verify_version(version, checksums=checksums))
    else:
        manifest = art.read_manifest(version)
    manifest = {**manifest, "version": version.name}
    try:
        section = art.model_manifest(manifest)
    except ArtifactError as exc:  # name the file that lacks it, as every other refusal does
        raise ArtifactError(f"{art.MANIFEST}: {exc}") from None
    for key, expected in (("rank_features", RANK_FEATURES), ("like_features", LIKE_FEATURES)):
        if tuple(section.get(key) or ()) != expected:
            raise ArtifactError(f"{art.MANIFEST}: {key} differ from this reco's "
                                f"{list(expected)}; train again with this reco")
    try:
        config = HybridConfig.from_dict(section.get("config") or {})
    except (ConfigError, TypeError, ValueError) as exc:  # from another reco version
        raise ArtifactError(f"{art.MANIFEST}: model config: {exc}") from None
    _require(version, [CF, RATING, POPULAR, CONTEXT, RANKER, LIKE_MODEL]
             + ([CONTENT] if config.use_content else [])
             + ([ITEM] if config.use_item else []))
    return _relative(version, lambda: _load(version, manifest, section, config))


def _require(directory: Path, names: list[str]) -> None:
    missing = [name for name in names if not (directory / name).is_file()]
    if missing:
        raise ArtifactError(f"{', '.join(missing)}: missing from the version; "
                            "train again (scripts/train.py)")


def _load(directory: Path, manifest: dict[str, Any], section: dict[str, Any],
          config: HybridConfig) -> tuple[HybridRecommender, pl.DataFrame, dict[str, Any]]:
    with _reading(art.TABLE_FILES[art.CATALOG]):
        catalog = art.read_table(directory, art.CATALOG, manifest)
        _check_loaded_catalog(catalog)
    with _reading(CF):
        cf = Recommender.load(directory / CF)
        _check_part(CF, cf, ALSRecommender, config.cf)
    with _reading(RATING):
        rating_model = Recommender.load(directory / RATING, seen=cf.seen_)
        if config.rating_model == "svd":
            _check_part(RATING, rating_model, SVDRecommender, config.rating_svd)
        else:
            _check_part(RATING, rating_model, ALSRecommender, config.rating_als)
        _check_same_ids(RATING, rating_model, cf)
    with _reading(POPULAR):
        popular = Recommender.load(directory / POPULAR, seen=cf.seen_)
        _check_part(POPULAR, popular, PopularityRecommender,
                    PopularityConfig(like_threshold=config.like_threshold))
        _check_same_ids(POPULAR, popular, cf)
    content = None
    if config.use_content:
        with _reading(CONTENT):
            content = Recommender.load(directory / CONTENT,
                                       seen=_widened(cf))
            _check_part(CONTENT, content, ContentRecommender, config.content)
            _check_same_users(CONTENT, content, cf)
    item = None
    if config.use_item:
        with _reading(ITEM):
            item = Recommender.load(directory / ITEM, seen=cf.seen_)
            _check_part(ITEM, item, EASERecommender, config.item)
            _check_same_ids(ITEM, item, cf)
    with _reading(CONTEXT):
        context = load_npz(directory / CONTEXT)
        time_popularity = TimePopularity.from_state(context)
        recent = RecentItems.from_state(context)
        _check_context(time_popularity, recent, catalog[MOVIE_ID].to_numpy())
    store_state = None
    if STORE in (manifest.get("files") or {}):  # verified against the manifest above
        with _reading(STORE):
            store_state = load_npz(directory / STORE)
    tables: dict[str, Any] = {}
    for name in art.FEATURE_TABLES:
        with _reading(art.TABLE_FILES[name]):
            if store_state is None:
                tables[name] = art.read_table(directory, name, manifest)
                _check_feature_table(name, tables[name].schema)
            else:  # checked now by their schemas, read on first use
                _check_feature_table(name, art.table_schema(directory, name, manifest))
                tables[name] = _deferred_table(directory, name, manifest)
    with _reading(RANKER):
        ranker = load_booster(directory / RANKER, RANK_FEATURES)
    with _reading(LIKE_MODEL):
        like_model = load_booster(directory / LIKE_MODEL, LIKE_FEATURES)
    retrieval = None
    if RETRIEVAL in (manifest.get("files") or {}):  # verified against the manifest above
        with _reading(RETRIEVAL):
            retrieval = _load_retrieval(load_npz(directory / RETRIEVAL), cf, content)
    stage = StageOne(
        cf=cf, rating_model=rating_model, content=content, popular=popular,
        tables=FeatureTables(**tables), movies=catalog.select(STAGE_MOVIE_COLUMNS),
        time_popularity=time_popularity, recent=recent, like_threshold=config.like_threshold,
        item=item, retrieval=retrieval, store_state=store_state,
    )
    if store_state is not None:
        with _reading(STORE):
            try:
                stage.store  # noqa: B018  (built now: a bad file fails the load, not a request)
            except ValueError as exc:
                raise ArtifactError(f"{STORE}: {exc}") from None
            _check_store_ids(stage)
    with _reading(art.MANIFEST):
        windows = section.get("windows") or {}
        model = HybridRecommender.from_parts(config, stage, ranker, like_model, windows)
    return model, catalog, manifest


def _item_spaces(cf: Recommender, content: Recommender | None) -> dict[str, np.ndarray]:
    """The item vectors each retrieval index is built over, by the index's name."""
    spaces: dict[str, np.ndarray] = {"cf": cf._item_vectors()}
    if content is not None:
        spaces["content"] = content.embeddings_  # type: ignore[attr-defined]
    return spaces


def _load_retrieval(state: Mapping[str, np.ndarray], cf: Recommender,
                    content: Recommender | None) -> dict[str, VectorIndex]:
    """The saved indexes, each checked against the item vectors it indexes."""
    spaces = _item_spaces(cf, content)
    names = sorted(key.removesuffix("_centroids") for key in state if key.endswith("_centroids"))
    unknown = [name for name in names if name not in spaces]
    if unknown or not names:
        raise ArtifactError(f"{RETRIEVAL}: indexes {unknown or names} do not match the "
                            f"model's item vectors ({sorted(spaces)})")
    out = {}
    for name in names:
        try:
            out[name] = VectorIndex.from_state(dict(state), name, *spaces[name].shape)
        except ValueError as exc:
            raise ArtifactError(f"{RETRIEVAL}: {exc}") from None
    return out


def _plain(config: ConfigBase) -> Any:
    # through JSON, as the manifest holds it: a tuple and the list it loads as are equal
    return json.loads(json.dumps(config.to_dict(), default=str))


def _check_part(name: str, model: Recommender, klass: type[Recommender],
                config: ConfigBase) -> None:
    """A part is the model the manifest's config says it is: a file swapped for another
    model's (of the same users and movies) loads, and then answers for the wrong model."""
    if type(model) is not klass:
        raise ArtifactError(f"{name}: holds a {type(model).__name__}, the model config "
                            f"needs a {klass.__name__}")
    if _plain(model.config) != _plain(config):
        raise ArtifactError(f"{name}: its config differs from the model config in "
                            f"{art.MANIFEST}")


def _check_same_ids(name: str, model: Recommender, cf: Recommender) -> None:
    """The models sharing cf.npz's ratings matrix share its users and movies too: the
    matrix's rows and columns are theirs only if the ids are the same."""
    if not (np.array_equal(model.user_map_.ids, cf.user_map_.ids)
            and np.array_equal(model.item_map_.ids, cf.item_map_.ids)):
        raise ArtifactError(f"{name}: its user or movie ids differ from {CF}'s, whose "
                            "ratings matrix it shares")


def _check_loaded_catalog(catalog: pl.DataFrame) -> None:
    name = art.TABLE_FILES[art.CATALOG]
    missing = [c for c in CATALOG_COLUMNS if c not in catalog.columns]
    if missing:
        raise ArtifactError(f"{name}: lacks columns {missing}")
    # of the types stage one and serving read: a string of genres would load, and fail
    # on the first request that explodes it
    schema = catalog.schema
    if (not schema[MOVIE_ID].is_integer() or not schema[YEAR].is_numeric()
            or schema[TITLE] != MOVIES_SCHEMA[TITLE] or schema[GENRES] != MOVIES_SCHEMA[GENRES]):
        raise ArtifactError(f"{name}: column types {[str(schema[c]) for c in CATALOG_COLUMNS]}"
                            " are not the integer, text, number and list of text it needs")
    if catalog[MOVIE_ID].null_count() or not catalog[MOVIE_ID].is_unique().all():
        raise ArtifactError(f"{name}: a movie id is missing or listed twice")


#: The columns of each feature table stage one reads (reco.ranking.stage_arrays), and
#: those that must be numbers.
_FEATURE_KEYS = {"users": (USER_ID,), "movies": (MOVIE_ID,), "user_genres": (USER_ID, GENRE)}
_FEATURE_NUMBERS = {"users": (*USER_COLUMNS, "last_timestamp"), "movies": MOVIE_COLUMNS,
                    "user_genres": PREF_COLUMNS}


def _deferred_table(directory: Path, name: str,
                    manifest: dict[str, Any]) -> Callable[[], pl.DataFrame]:
    def read() -> pl.DataFrame:
        with _reading(art.TABLE_FILES[name]):
            return _relative(directory, lambda: art.read_table(directory, name, manifest))
    return read


def _check_store_ids(stage: StageOne) -> None:
    """store.npz's users and movies are the models' (files of one training)."""
    store = stage.store
    if not bool(np.isin(store.users.ids, stage.cf.user_map_.ids).all()) or not bool(
            np.isin(stage.cf.item_map_.ids, store.movies.ids).all()):
        raise ArtifactError(f"{STORE}: its users or movies are not {CF}'s (files of two "
                            "trainings?)")


def _check_feature_table(name: str, schema: pl.Schema) -> None:
    """The columns stage one reads are there, and numbers where it computes with them: the
    manifest's column list is only as good as the manifest (a re-sealed edit agrees)."""
    needed = _FEATURE_KEYS[name] + _FEATURE_NUMBERS[name]
    missing = [c for c in needed if c not in schema]
    if missing:
        raise ArtifactError(f"{art.TABLE_FILES[name]}: lacks columns {missing}")
    wrong = [c for c in _FEATURE_NUMBERS[name] if not schema[c].is_numeric()]
    if wrong:
        raise ArtifactError(f"{art.TABLE_FILES[name]}: columns {wrong} are not numbers")


def _widened(cf: Recommender) -> Callable[[IdMap], sp.csr_matrix]:
    """cf.npz's ratings matrix over another model's movies (the content model's: every
    movie with text), as the fit built it; built when that model first reads it (a
    request never does: the hybrid reads cf's)."""
    def build(items: IdMap) -> sp.csr_matrix:
        return Interactions(cf.user_map_, cf.item_map_, cf.seen_).widen(items.ids).matrix
    return build


def _check_same_users(name: str, model: Recommender, cf: Recommender) -> None:
    if not np.array_equal(model.user_map_.ids, cf.user_map_.ids):
        raise ArtifactError(f"{name}: its users differ from {CF}'s (files of two trainings?)")


def _check_context(time_popularity: TimePopularity, recent: RecentItems,
                   movies: np.ndarray) -> None:
    # movies the catalog does not know would be dropped silently (masked) at every
    # request: the user's recent history and the time popularity would be empty
    for what, ids in (("time popularity", time_popularity.movies.ids),
                      ("recent items", recent.movies)):
        if ids.dtype.kind not in "iu" or not bool(np.isin(ids, movies).all()):
            raise ArtifactError(f"{CONTEXT}: {what} name movies the catalog does not hold")
    cum, total = time_popularity.cum, time_popularity.total
    if (cum.ndim != 2 or cum.shape[0] != len(time_popularity.movies)
            or total.shape != (cum.shape[1],)):
        raise ArtifactError(f"{CONTEXT}: time popularity arrays do not fit together "
                            f"({cum.shape} counts, {total.shape} totals)")
    indptr = recent.indptr
    if (indptr.shape != (len(recent.users) + 1,) or int(indptr[0]) != 0
            or int(indptr[-1]) != recent.movies.size or bool(np.any(np.diff(indptr) < 0))):
        raise ArtifactError(f"{CONTEXT}: recent items' row pointers are out of range")
