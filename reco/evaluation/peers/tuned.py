"""The tuned peers of the evaluation and their bounded grids (``docs/EVALUATION.md``).

Three grid sizes: ``"full"`` (the headline run on ml-latest-small, about 10 minutes on 2
cores in all), ``"small"`` (the generality suite: a few points around the full grid's
usual winners, so seven releases fit in one sitting) and ``"smoke"`` (one or two points,
for tests). Every grid is a sequence of stages (:mod:`reco.evaluation.peers.tuning`).
A peer whose package does not import is skipped with the reason said.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reco.config import check_choice
from reco.evaluation.peers.ease_recency import EASERecencyConfig, EASERecencyPeer, SharedEASE
from reco.evaluation.peers.external import (
    ImplicitALSConfig,
    ImplicitALSPeer,
    _import_error,
    implicit_available,
)
from reco.evaluation.peers.itemknn import ItemKNNConfig, ItemKNNPeer
from reco.evaluation.peers.rp3beta import RP3betaConfig, RP3betaPeer
from reco.evaluation.peers.slim import SLIMConfig, SLIMPeer
from reco.evaluation.peers.tuning import Grid
from reco.models.base import Recommender
from reco.models.ease import EASEConfig

GRID_SIZES = ("full", "small", "smoke")


@dataclass(frozen=True)
class TunedPeer:
    """One tuned peer: its report line, how to build it from a grid point, its grids."""

    name: str
    factory: Callable[..., Recommender]
    grids: dict[str, Grid]
    #: (peer name, parameter): the first stage takes that parameter's value from the named
    #: peer's choice in the same run, when it was tuned before (a staged grid across peers)
    inherit: tuple[str, str] | None = None

    def grid(self, size: str) -> Grid:
        check_choice("TunedPeer", "grid size", size, GRID_SIZES)
        return self.grids[size]


def _ease(**point: Any) -> Recommender:
    return SharedEASE(EASEConfig(**point))


def _ease_recency(**point: Any) -> Recommender:
    return EASERecencyPeer(EASERecencyConfig(**point))


def _implicit_als(**point: Any) -> Recommender:
    return ImplicitALSPeer(ImplicitALSConfig(**point))


def _slim(**point: Any) -> Recommender:
    return SLIMPeer(SLIMConfig(**point))


def _rp3beta(**point: Any) -> Recommender:
    return RP3betaPeer(RP3betaConfig(**point))


def _itemknn(**point: Any) -> Recommender:
    return ItemKNNPeer(ItemKNNConfig(**point))


# The full grids are the protocol's (docs/EVALUATION.md, "Tuned peers"), cut to what 2
# cores fit in the headline run's ~10 minutes, around the values the protocol's own tuning
# chose on ml-latest-small; each cut is said in docs/EVALUATION.md.
TUNED_PEERS: tuple[TunedPeer, ...] = (
    TunedPeer("EASE (tuned)", _ease, {
        "full": [{"lam": [100.0, 200.0, 300.0, 500.0, 1000.0]}],
        "small": [{"lam": [100.0, 300.0, 1000.0]}],
        "smoke": [{"lam": [10.0, 100.0]}],
    }),
    TunedPeer("EASE, recency-weighted user vector (tuned)", _ease_recency, {
        # the half-life at the lambda tuned EASE chose (one B solved per fit part); 1e9
        # is plain EASE, so the recency weighting has to earn its place
        "full": [{"lam": [300.0], "half_life": [10.0, 20.0, 40.0, 80.0, 160.0, 1e9]}],
        "small": [{"lam": [300.0], "half_life": [20.0, 80.0, 1e9]}],
        "smoke": [{"lam": [100.0], "half_life": [5.0, 1e9]}],
    }, inherit=("EASE (tuned)", "lam")),
    TunedPeer("implicit ALS on likes (tuned)", _implicit_als, {
        "full": [{"factors": [64, 128, 256], "regularization": [1.0, 10.0, 30.0],
                  "alpha": [0.5, 1.0, 2.0], "iterations": [15]},
                 {"iterations": [30, 50]}],
        "small": [{"factors": [64, 256], "regularization": [1.0, 10.0], "alpha": [1.0],
                   "iterations": [15]}, {"iterations": [50]}],
        "smoke": [{"factors": [8], "regularization": [0.1], "alpha": [1.0],
                   "iterations": [5]}],
    }),
    TunedPeer("SLIM ElasticNet on likes, co-liked neighbours (tuned)", _slim, {
        "full": [{"alpha": [0.1, 0.3, 1.0], "l1_ratio": [0.01, 0.1], "neighbours": [100]}],
        "small": [{"alpha": [0.1, 0.3, 1.0], "l1_ratio": [0.01], "neighbours": [100]}],
        "smoke": [{"alpha": [0.01, 0.3], "l1_ratio": [0.1], "neighbours": [10]}],
    }),
    TunedPeer("RP3beta on likes (tuned)", _rp3beta, {
        "full": [{"alpha": [0.25, 0.5, 0.75, 1.0], "beta": [0.2, 0.35, 0.5, 0.65],
                  "neighbours": [200]},
                 {"neighbours": [50, 100, 500, 1000]}],
        "small": [{"alpha": [0.5, 1.0], "beta": [0.2, 0.5], "neighbours": [200]}],
        "smoke": [{"alpha": [1.0], "beta": [0.0, 0.5], "neighbours": [10]}],
    }),
    TunedPeer("ItemKNN cosine on likes (tuned)", _itemknn, {
        "full": [{"neighbours": [20, 50, 100, 300, 1000], "shrink": [0.0, 10.0, 50.0, 200.0]}],
        "small": [{"neighbours": [100, 1000], "shrink": [10.0, 100.0]}],
        "smoke": [{"neighbours": [10], "shrink": [0.0, 10.0]}],
    }),
)


def tuned_peers() -> tuple[list[TunedPeer], dict[str, str]]:
    """The tuned peers that can run here, and the skipped ones with the reason."""
    skipped = {}
    peers = []
    for peer in TUNED_PEERS:
        if peer.factory is _implicit_als and not implicit_available():
            skipped[peer.name] = (f"the optional package 'implicit' does not import "
                                  f"({_import_error('implicit.cpu.als')}); "
                                  "pip install implicit (the peers extra)")
            continue
        peers.append(peer)
    return peers, skipped
