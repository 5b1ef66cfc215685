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

:class:`BlockFeatures` puts several blocks (word, char, tag tokens...) and dense columns
side by side and saves them the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.preprocessing import normalize

from reco.config import ConfigBase, check_choice, check_int
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
        check_int(name, "ngram_min", self.ngram_min, 1)
        check_int(name, "ngram_max", self.ngram_max, self.ngram_min)
        check_int(name, "min_df", self.min_df, 1)
        check_int(name, "max_features", self.max_features, 0)

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


def _source(docs: Mapping[str, Sequence[str] | None], name: str, source: str) -> Sequence[str]:
    """``docs[source]``, which block ``name`` reads; absent or None is a caller mistake."""
    found = docs.get(source)
    if found is None:
        raise ValueError(f"block {name!r} needs documents for {source!r}")
    return found


class BlockFeatures:
    """Named TF-IDF blocks side by side, each scaled by a weight, then dense columns.

    Each block reads one *source* (e.g. ``"text"`` or ``"tokens"``): the documents passed
    under that name. Blocks are l2-normalised per row before their weight is applied, so
    the weights set each block's share of the row norm.

    Parameters
    ----------
    blocks
        ``name -> (source, block, weight)``, in column order.
    n_dense
        Number of dense columns appended after the blocks (0: none).
    """

    def __init__(self, blocks: Mapping[str, tuple[str, TfidfBlock, float]],
                 n_dense: int = 0) -> None:
        self.blocks = dict(blocks)
        self.n_dense = int(n_dense)

    @classmethod
    def fit(cls, specs: Mapping[str, tuple[str, TfidfParams, float]],
            docs: Mapping[str, Sequence[str] | None], n_dense: int = 0) -> BlockFeatures:
        """Fit one block per ``name -> (source, params, weight)`` on ``docs[source]``."""
        return cls({name: (source, TfidfBlock.fit(_source(docs, name, source), params), weight)
                    for name, (source, params, weight) in specs.items()}, n_dense)

    @property
    def n_features(self) -> int:
        """Number of columns."""
        return sum(b.n_features for _, b, _ in self.blocks.values()) + self.n_dense

    def transform(self, docs: Mapping[str, Sequence[str] | None],
                  dense: np.ndarray | None = None) -> sp.csr_matrix:
        """The feature matrix; ``docs`` must hold every block's source."""
        parts = []
        for name, (source, block, weight) in self.blocks.items():
            parts.append(block.transform(_source(docs, name, source)) * weight)
        if self.n_dense:
            n = parts[0].shape[0] if parts else (0 if dense is None else len(dense))
            if dense is None or np.shape(dense) != (n, self.n_dense):
                got = None if dense is None else np.shape(dense)
                raise ValueError(f"dense must have shape ({n}, {self.n_dense}), got {got}")
            parts.append(sp.csr_matrix(np.asarray(dense, dtype=np.float64)))
        return sp.hstack(parts, format="csr")

    def to_arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        """Every block's arrays plus ``{prefix}layout`` (JSON: names, sources, weights)."""
        arrays: dict[str, np.ndarray] = {}
        layout = {"blocks": [[n, s, w] for n, (s, _, w) in self.blocks.items()],
                  "n_dense": self.n_dense}
        for name, (_, block, _) in self.blocks.items():
            arrays.update(block.to_arrays(f"{prefix}{name}_"))
        arrays[f"{prefix}layout"] = np.array(json.dumps(layout))
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str = "") -> BlockFeatures:
        """Rebuild what :meth:`to_arrays` wrote."""
        if f"{prefix}layout" not in arrays:
            raise ArtifactError(f"feature blocks {prefix!r}: missing array '{prefix}layout'")
        layout = json.loads(str(arrays[f"{prefix}layout"]))
        blocks = {name: (source, TfidfBlock.from_arrays(arrays, f"{prefix}{name}_"), weight)
                  for name, source, weight in layout["blocks"]}
        return cls(blocks, layout["n_dense"])
