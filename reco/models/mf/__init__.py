"""Matrix factorization: implicit and explicit ALS (:mod:`.als`, solved by
:mod:`._als_solver`) and truncated SVD (:mod:`.svd`)."""

from reco.models.mf.als import ALSConfig, ALSRecommender
from reco.models.mf.svd import SVDConfig, SVDRecommender, baseline

__all__ = ["ALSConfig", "ALSRecommender", "SVDConfig", "SVDRecommender", "baseline"]
