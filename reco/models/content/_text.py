"""Movie text for the content model: one text column and one TF-IDF block per field.

Each movie is described by up to five text fields, each turned into its own TF-IDF block
(so a long overview cannot drown a one-word title)::

    title     words of the title without the "(1995)" year
    genres    one token per MovieLens genre ("genre_sci_fi")
    tags      the users' tags of the movie, lowercased, all users pooled
    overview  the TMDB overview, where links.csv maps the movie to a TMDB id in ``tmdb``
    keywords  the TMDB keywords, likewise

Every block's rows are L2-normalised and scaled by ``sqrt(weight)``, then the blocks are
stacked side by side, so the inner product of two movies is the weighted sum of their
per-field cosines, ``sum_f w_f cos_f(i, j)``, and a truncated SVD of that matrix gives
the movie embeddings (:func:`embed_movies`). They depend on the text alone, not on any
rating, so one :class:`MovieEmbeddings` serves every model fitted on the same text
(:meth:`ContentRecommender.fit_embeddings
<reco.models.content._model.ContentRecommender.fit_embeddings>`).

Why not :class:`reco.text.tfidf.TfidfBlock`: that block keeps its vocabulary and idf so a
saved tagger transforms new text identically after load; the content model transforms
only the text it is fitted on (its embeddings are what it saves), and it needs English
stop words and accent stripping, which the block does not offer. Models may not import
``reco.text`` either, so the two stay separate.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import scipy.sparse as sp

from reco.columns import (
    GENRES,
    KEYWORDS,
    MOVIE_ID,
    OVERVIEW,
    TAG,
    TITLE,
    TMDB_ID,
    title_without_year,
)
from reco.exceptions import ModelFitError
from reco.models.content._config import FIELDS, ContentConfig

if TYPE_CHECKING:
    from sklearn.feature_extraction.text import TfidfVectorizer

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- text per movie
def movie_texts(
    movies: pl.DataFrame,
    tags: pl.DataFrame | None = None,
    links: pl.DataFrame | None = None,
    tmdb: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per movie (sorted by id): ``movie_id`` and one text column per field.

    Parameters
    ----------
    movies
        ``movie_id, title, genres`` (genres a list of strings).
    tags
        ``movie_id, tag``; optional.
    links, tmdb
        ``movie_id, tmdb_id`` and :func:`reco.data.tmdb.read_tmdb_movies`'s frame; the
        overview and keywords are used only when both are given.
    """
    _require_columns("movies", movies, (MOVIE_ID, TITLE, GENRES))
    if tags is not None:
        _require_columns("tags", tags, (MOVIE_ID, TAG))
    if links is not None:
        _require_columns("links", links, (MOVIE_ID, TMDB_ID))
    if tmdb is not None:
        _require_columns("tmdb", tmdb, (TMDB_ID, OVERVIEW, KEYWORDS))
        if links is None:
            log.warning("content: a TMDB table without links cannot be joined; it is unused")
    genre_token = pl.lit("genre_") + (
        pl.element().str.to_lowercase().str.replace_all(r"[^a-z0-9]+", "_").str.strip_chars("_")
    )
    out = movies.lazy().unique(MOVIE_ID, keep="first", maintain_order=True).select(
        pl.col(MOVIE_ID),
        title_without_year(pl.col(TITLE).fill_null("")).alias("title"),
        pl.col(GENRES).list.eval(genre_token).list.join(" ").fill_null("").alias("genres"),
    )
    if tags is not None and tags.height:
        per_movie = tags.lazy().group_by(MOVIE_ID).agg(
            pl.col(TAG).drop_nulls().str.to_lowercase().sort().str.join(" ").alias("tags")
        )
        out = out.join(per_movie, on=MOVIE_ID, how="left")
    else:
        out = out.with_columns(pl.lit(None, dtype=pl.String).alias("tags"))
    if links is not None and tmdb is not None:
        text = tmdb.lazy().unique(TMDB_ID, keep="first").select(
            pl.col(TMDB_ID),
            pl.col(OVERVIEW).alias("overview"),
            pl.col(KEYWORDS).list.join(" ").alias("keywords"),
        )
        linked = links.lazy().select(MOVIE_ID, TMDB_ID).drop_nulls().unique(MOVIE_ID)
        out = out.join(linked.join(text, on=TMDB_ID).drop(TMDB_ID), on=MOVIE_ID, how="left")
    else:
        out = out.with_columns(
            pl.lit(None, dtype=pl.String).alias("overview"),
            pl.lit(None, dtype=pl.String).alias("keywords"),
        )
    return out.select(MOVIE_ID, *(pl.col(f).fill_null("") for f in FIELDS)).sort(
        MOVIE_ID
    ).collect()


def _require_columns(name: str, frame: pl.DataFrame, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} frame lacks column(s) {missing}; has {frame.columns}")


def _vectorizer(field: str, config: ContentConfig) -> TfidfVectorizer:
    # scikit-learn is imported where it fits, not at import: a server loads the content
    # model's embeddings and never fits one (1.8 s of each worker's start)
    from sklearn.feature_extraction.text import TfidfVectorizer

    if field == "genres":  # closed vocabulary of ready-made tokens
        return TfidfVectorizer(token_pattern=r"\S+", lowercase=False, sublinear_tf=True,
                               dtype=np.float32)
    return TfidfVectorizer(
        sublinear_tf=True, min_df=config.min_df, max_features=config.max_features,
        stop_words="english", strip_accents="unicode", dtype=np.float32,
    )


def tfidf_blocks(texts: pl.DataFrame, config: ContentConfig) -> sp.csr_matrix:
    """The weighted, side-by-side TF-IDF blocks of every field (movies x words)."""
    blocks = []
    for field, weight in config.weights().items():
        if weight <= 0:
            continue
        docs = texts[field].to_list()
        try:
            block = _vectorizer(field, config).fit_transform(docs)
        except ValueError:  # no word survives (empty field, or min_df too high)
            log.info("content: field %r has no usable words; skipped", field)
            continue
        log.info("content: field %r: %d words, %d movies with text", field, block.shape[1],
                 int((block.getnnz(axis=1) > 0).sum()))
        # rows of a TfidfVectorizer block are unit (or zero): scaling by sqrt(w) makes
        # the stacked inner product sum_f w_f cos_f
        blocks.append(block * np.float32(np.sqrt(weight)))
    if not blocks:
        raise ModelFitError("no text to learn from: every field is empty or pruned by min_df")
    return sp.hstack(blocks, format="csr", dtype=np.float32)


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


@dataclass(frozen=True)
class MovieEmbeddings:
    """Unit text embeddings of movies: ``vectors[j]`` belongs to ``movie_ids[j]``
    (sorted ids; a movie without any text has a zero row)."""

    movie_ids: np.ndarray  # (n,) int64, sorted
    vectors: np.ndarray  # (n, d) float32
    fallback: str | None = None  # why the configured fields were widened, if they were


def embed_movies(movies: pl.DataFrame, config: ContentConfig,
                 tags: pl.DataFrame | None = None, links: pl.DataFrame | None = None,
                 tmdb: pl.DataFrame | None = None) -> MovieEmbeddings:
    """Movie texts -> per-field TF-IDF -> truncated SVD -> unit rows.

    Raises
    ------
    ModelFitError
        Too little text for an SVD (fewer than two words survive).
    """
    started = time.perf_counter()
    texts = movie_texts(movies, tags, links, tmdb)
    fallback = None
    try:
        features = tfidf_blocks(texts, config)
    except ModelFitError:
        features = sp.csr_matrix((texts.height, 0), dtype=np.float32)
    if features.shape[1] < 2:
        # A release whose movies list no genres (or whose words are all pruned by
        # min_df) still has titles and tags: keep every word of every field rather than
        # refuse to train. Said once in the log and recorded by the caller.
        fallback = (f"content: the configured text gives {features.shape[1]} word(s) "
                    "(no genres listed?); fell back to every word of every field "
                    "(min_df=1, all fields weighted 1)")
        log.warning("%s", fallback)
        wide = ContentConfig(dimensions=config.dimensions, min_df=1,
                             max_features=config.max_features,
                             random_state=config.random_state)
        try:
            features = tfidf_blocks(texts, wide)
        except ModelFitError:
            features = sp.csr_matrix((texts.height, 0), dtype=np.float32)
    rank = min(config.dimensions, *features.shape)
    if rank < 1 or features.shape[1] < 2:
        raise ModelFitError(f"too little text for an SVD: {features.shape[1]} word(s) in "
                            "every title, genre and tag together")
    from sklearn.decomposition import TruncatedSVD

    svd = TruncatedSVD(n_components=rank, random_state=config.random_state)
    dense = svd.fit_transform(features)
    log.info(
        "content: %d movies x %d words -> %d dimensions (%.0f%% of the variance) in %.2fs",
        features.shape[0], features.shape[1], rank,
        100 * float(svd.explained_variance_ratio_.sum()), time.perf_counter() - started,
    )
    return MovieEmbeddings(texts[MOVIE_ID].to_numpy().astype(np.int64),
                           normalize_rows(dense.astype(np.float32)), fallback)
