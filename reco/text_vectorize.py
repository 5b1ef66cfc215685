"""TF-IDF blocks that save to plain arrays (no pickle) and transform identically after load.

scikit-learn's ``TfidfVectorizer`` learns the vocabulary and the idf weights; a
:class:`TfidfBlock` keeps only those two arrays and its parameters and does the transform
itself (``CountVectorizer`` with the fixed vocabulary, then sublinear tf, idf and l2 norm,
which is what ``TfidfTransformer`` does). The block uses that same code path right after
``fit`` and after :meth:`TfidfBlock.from_arrays`, so a saved and reloaded block gives
bit-identical matrices.

Reusable by any text model::

    block = TfidfBlock.fit(docs, TfidfParams(analyzer="char_wb", ngram_max=5))
    arrays = block.to_arrays("char_")            # str terms, float idf, JSON params
    np.savez_compressed(path, **arrays)
    again = TfidfBlock.from_arrays(np.load(path, allow_pickle=False), "char_")
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.preprocessing import normalize

from reco.config import ConfigBase, check_choice, check_range
from reco.exceptions import ArtifactError

ANALYZERS = ("word", "char", "char_wb")


@dataclass(frozen=True)
class TfidfParams(ConfigBase):
    """Parameters of one TF-IDF block (a subset of ``TfidfVectorizer``'s).

    Parameters
    ----------
    analyzer
        ``"word"``, ``"char"`` or ``"char_wb"``.
    ngram_min, ngram_max
        The n-gram range.
    min_df
        Minimum document count of a term.
    max_features
        Keep the most frequent terms only (0: no limit).
    lowercase
        Lower-case before tokenising.
    token_pattern
        Word tokens (``analyzer="word"`` only); ``r"\\S+"`` suits pre-built tag tokens.
    sublinear_tf
        ``1 + log(tf)`` instead of raw counts.
    """

    analyzer: str = "word"
    ngram_min: int = 1
    ngram_max: int = 1
    min_df: int = 1
    max_features: int = 0
    lowercase: bool = True
    token_pattern: str = r"(?u)\b\w\w+\b"
    sublinear_tf: bool = True

    def __post_init__(self) -> None:
        name = type(self).__name__
        check_choice(name, "analyzer", self.analyzer, ANALYZERS)
        check_range(name, "ngram_min", self.ngram_min, 1)
        check_range(name, "ngram_max", self.ngram_max, self.ngram_min)
        check_range(name, "min_df", self.min_df, 1)
        check_range(name, "max_features", self.max_features, 0)

    def _vectorizer_kwargs(self) -> dict[str, object]:
        kwargs: dict[str, object] = {
            "analyzer": self.analyzer,
            "ngram_range": (self.ngram_min, self.ngram_max),
            "lowercase": self.lowercase,
            "dtype": np.float64,
        }
        if self.analyzer == "word":
            kwargs["token_pattern"] = self.token_pattern
        return kwargs


class TfidfBlock:
    """A fitted TF-IDF transform held as ``terms`` (column order) and ``idf`` arrays.

    Parameters
    ----------
    terms
        The vocabulary, ``terms[j]`` is column ``j``.
    idf
        The idf weight of each column.
    params
        The analyzer settings the terms were learned with.
    """

    def __init__(self, terms: Sequence[str] | np.ndarray, idf: np.ndarray,
                 params: TfidfParams) -> None:
        terms = [str(t) for t in terms]
        idf = np.asarray(idf, dtype=np.float64)
        if idf.shape != (len(terms),):
            raise ValueError(f"idf has shape {idf.shape}, expected ({len(terms)},) for the terms")
        if len(set(terms)) != len(terms):
            raise ValueError("terms must be unique")
        self.terms = terms
        self.idf = idf
        self.params = params
        # A CountVectorizer with a fixed vocabulary needs no fit; it only tokenises.
        self._counter = CountVectorizer(vocabulary=terms, **params._vectorizer_kwargs())

    @classmethod
    def fit(cls, docs: Sequence[str], params: TfidfParams | None = None) -> TfidfBlock:
        """Learn the vocabulary and idf of ``docs`` (smooth idf, as scikit-learn does)."""
        params = params or TfidfParams()
        if len(docs) == 0:
            raise ValueError("cannot fit a TF-IDF block on 0 documents")
        vectorizer = TfidfVectorizer(
            min_df=params.min_df, max_features=params.max_features or None,
            sublinear_tf=params.sublinear_tf, **params._vectorizer_kwargs(),
        )
        try:
            vectorizer.fit(docs)
        except ValueError as exc:  # "empty vocabulary": every document was too short
            raise ValueError(f"TF-IDF block ({params.analyzer}) learned no terms: {exc}") from exc
        terms = vectorizer.get_feature_names_out()
        return cls(terms, vectorizer.idf_, params)

    @property
    def n_features(self) -> int:
        """Number of columns."""
        return len(self.terms)

    def transform(self, docs: Sequence[str]) -> sp.csr_matrix:
        """Rows of l2-normalised tf-idf weights, one per document."""
        counts = self._counter.transform(docs).astype(np.float64).tocsr()
        if self.params.sublinear_tf:
            np.log(counts.data, out=counts.data)
            counts.data += 1.0
        weighted = counts @ sp.diags(self.idf, format="csr")
        return normalize(weighted, norm="l2", copy=False).tocsr()

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """``{prefix}terms`` (str), ``{prefix}idf`` (float64) and ``{prefix}params`` (JSON)."""
        terms = np.array(self.terms, dtype=str)
        # NumPy's fixed-width strings drop trailing NULs; refuse rather than save a corrupt
        # vocabulary.
        if any(t.endswith("\x00") for t in self.terms):
            raise ValueError("a term ends with a NUL character and cannot be stored as str")
        return {
            f"{prefix}terms": terms,
            f"{prefix}idf": self.idf,
            f"{prefix}params": np.array(json.dumps(asdict(self.params))),
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str) -> TfidfBlock:
        """Rebuild a block saved by :meth:`to_arrays` (e.g. from ``np.load(...,
        allow_pickle=False)``)."""
        keys = [f"{prefix}{k}" for k in ("terms", "idf", "params")]
        missing = [k for k in keys if k not in arrays]
        if missing:
            raise ArtifactError(f"TF-IDF block {prefix!r}: missing array(s) {missing}")
        params = TfidfParams.from_dict(json.loads(str(arrays[keys[2]])))
        return cls(arrays[keys[0]].tolist(), arrays[keys[1]], params)
