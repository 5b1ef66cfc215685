"""The two-stage model's configuration: every part's config and the one like threshold.

``HybridConfig.like_threshold`` is the only one: labels, the like model, popularity, the
feature tables, the fold-in of new users and the CF and content models all use it. A
sub-config that carries its own (``cf``, ``rating_als``, ``content``, ``features``) must
agree with it; :meth:`HybridConfig.with_like_threshold` sets them all at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from reco.config import ConfigBase, check_choice, check_int, check_range
from reco.data.split import LIKE_THRESHOLD
from reco.exceptions import ConfigError
from reco.features.tables import FeatureConfig
from reco.models.content import ContentConfig
from reco.models.ease import EASEConfig
from reco.models.mf import ALSConfig, SVDConfig
from reco.ranking.booster import RankerConfig
from reco.ranking.candidates import CandidateConfig
from reco.ranking.retrieval import RetrievalConfig
from reco.ranking.tuning import TuneConfig

#: The sub-configs that carry a like threshold of their own (single models stay usable alone).
THRESHOLD_OWNERS = ("cf", "rating_als", "content", "features", "item")


@dataclass(frozen=True)
class HybridConfig(ConfigBase):
    """Configs of every part of the full recommender (each validated on its own).

    ``like_threshold`` is the one threshold of every part (see the module docstring).
    ``rating_model`` picks the explicit rating predictor behind the ``rating_pred``
    features: ``"explicit_als"`` (``rating_als``; on ml-latest-small RMSE 0.871) or
    ``"svd"`` (``rating_svd``, centred; RMSE 0.920, about ten times cheaper on 32M
    ratings). With this model the like AUC on ml-latest-small is 0.8191 with explicit ALS
    and 0.8153 with the SVD, at the same NDCG@10 (docs/BENCHMARKS.md, "The refit and the
    rating model").
    """

    like_threshold: float = LIKE_THRESHOLD
    cf: ALSConfig = field(default_factory=ALSConfig)
    rating_model: str = "explicit_als"
    # 8 iterations: on ml-latest-small the test RMSE is the same as with 15 (0.8707) at
    # half the cost, which matters at 32M ratings
    rating_als: ALSConfig = field(
        default_factory=lambda: ALSConfig(feedback="explicit", iterations=8))
    rating_svd: SVDConfig = field(default_factory=lambda: SVDConfig(center="both"))
    content: ContentConfig = field(default_factory=ContentConfig)
    candidates: CandidateConfig = field(default_factory=CandidateConfig)
    ranker: RankerConfig = field(default_factory=RankerConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    use_content: bool = True
    # the item-item source: EASE on the most liked movies (a dense solve of that size),
    # each keeping its strongest weights (a sparse, small artifact and request)
    item: EASEConfig = field(
        default_factory=lambda: EASEConfig(lam=300.0, top_items=3000, neighbours=300))
    use_item: bool = True
    tune: TuneConfig = field(default_factory=TuneConfig)
    # the refit of stage one on all the ratings starts both ALS models from the feature
    # window's factors and runs this many sweeps of the implicit model (None: a cold
    # refit with their own iterations), and rating_refit_iterations of the explicit one
    # (None: refit_iterations); 4 and 3 score as 8 and 8 did on ml-latest-small and the
    # generality releases (docs/MODELS.md, step 6) at less than half the refit's ALS cost
    refit_iterations: int | None = 4
    rating_refit_iterations: int | None = 3
    # earlier label windows whose rows the boosters also learn from (docs/MODELS.md, "More
    # label windows"), while the feature window holds at most this many ratings
    earlier_windows: int = 2
    earlier_windows_max_ratings: int = 500_000
    # candidates of a request from an index of the item vectors on a large catalog
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)

    def __post_init__(self) -> None:
        check_choice("HybridConfig", "rating_model", self.rating_model, ("explicit_als", "svd"))
        if self.refit_iterations is not None:
            check_int("HybridConfig", "refit_iterations", self.refit_iterations, 1, 10_000)
        if self.rating_refit_iterations is not None:
            check_int("HybridConfig", "rating_refit_iterations", self.rating_refit_iterations,
                      1, 10_000)
        check_range("HybridConfig", "like_threshold", self.like_threshold, 0.0, 10.0)
        check_int("HybridConfig", "earlier_windows", self.earlier_windows, 0, 10)
        check_int("HybridConfig", "earlier_windows_max_ratings",
                  self.earlier_windows_max_ratings, 0)
        for name in THRESHOLD_OWNERS:
            theirs = getattr(self, name).like_threshold
            if theirs != self.like_threshold:
                raise ConfigError(
                    f"HybridConfig.like_threshold is {self.like_threshold!r} but "
                    f"HybridConfig.{name}.like_threshold is {theirs!r}: the hybrid uses one "
                    "threshold; use HybridConfig.with_like_threshold(...) to set them all")

    def with_like_threshold(self, threshold: float) -> HybridConfig:
        """This config with ``threshold`` as the like threshold of every part."""
        parts = {name: replace(getattr(self, name), like_threshold=threshold)
                 for name in THRESHOLD_OWNERS}
        return replace(self, like_threshold=threshold, **parts)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None = None) -> HybridConfig:
        values = dict(values or {})
        ranker = values.get("ranker")
        if isinstance(ranker, dict) and "like_threshold" in ranker:
            # manifests written before the threshold moved up from RankerConfig
            ranker = dict(ranker)
            values.setdefault("like_threshold", ranker.pop("like_threshold"))
            values["ranker"] = ranker
        nested = {f.name: f for f in fields(cls)}
        for name, value in list(values.items()):
            spec = nested.get(name)
            if spec is not None and isinstance(value, dict) and callable(spec.default_factory):
                klass = type(spec.default_factory())
                values[name] = klass.from_dict(value)
        return super().from_dict(values)
