"""Hyper-parameter tuning of a peer on an inner split of train only (reco-eval v1,
"Tuned peers"; ``docs/EVALUATION.md``).

:func:`tune` applies the protocol's split rule to the training part alone
(:func:`~reco.data.split.per_user_split` of ``train``: inner train / inner validation), fits
``factory(**point)`` on the inner train for every grid point, and picks the point with the
best NDCG@k on the inner validation users. The outer test part is never an argument, so it
cannot be seen. A grid is a sequence of *stages*: each stage is a mapping ``name -> values``
whose product is searched with the best values of the earlier stages filled in (a staged
grid: e.g. ALS's iterations searched at the best factors, regularization and alpha).
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from reco.data.split import LIKE_THRESHOLD, Split, per_user_split
from reco.evaluation.metrics import evaluate_topn
from reco.models.base import Recommender

log = logging.getLogger(__name__)

Stage = Mapping[str, Sequence[Any]]
Grid = Sequence[Stage]


def stage_points(stage: Stage, base: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every combination of ``stage``'s values (the first name varies slowest), each over
    ``base``."""
    if not stage:
        raise ValueError("a grid stage needs at least one parameter")
    names = list(stage)
    for name in names:
        if len(stage[name]) == 0:
            raise ValueError(f"grid parameter {name!r} has no values")
    return [{**(base or {}), **dict(zip(names, values))}
            for values in itertools.product(*(stage[n] for n in names))]


@dataclass(frozen=True)
class TuneResult:
    """What :func:`tune` chose and everything it tried.

    ``table``: one row per distinct grid point in the order tried (``stage``, the
    parameters, the inner metrics, ``fit_seconds``); ``on_edge``: the parameters whose
    chosen value is the smallest or largest of more than one tried (the protocol's cue to
    extend the grid past it).
    """

    params: dict[str, Any]
    score: float
    table: pl.DataFrame
    grid: list[dict[str, list[Any]]]
    seconds: float
    metric: str
    on_edge: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the report keeps it)."""
        return {"params": self.params, "score": self.score, "metric": self.metric,
                "grid": self.grid, "on_edge": self.on_edge, "seconds": round(self.seconds, 2),
                "n_points": self.table.height, "table": self.table.to_dicts()}


def _key(point: Mapping[str, Any]) -> str:
    return json.dumps(point, sort_keys=True, default=str)


def _edges(grid: Grid, best: Mapping[str, Any]) -> list[str]:
    edges = []
    for stage in grid:
        for name, values in stage.items():
            numeric = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
            if len(numeric) > 1 and best.get(name) in (min(numeric), max(numeric)):
                edges.append(name)
    return sorted(set(edges))


def tune(factory: Callable[..., Recommender], grid: Grid | Stage, train: pl.DataFrame, *,
         k: int = 10, like_threshold: float = LIKE_THRESHOLD,
         inner: Split | None = None, name: str = "") -> TuneResult:
    """The grid point with the best inner-validation NDCG@k; see the module docstring.

    Parameters
    ----------
    factory
        ``factory(**point)`` builds an unfitted recommender.
    grid
        One stage (a mapping ``name -> values``) or a sequence of stages.
    train
        The outer training part; the only ratings this function reads.
    inner
        The inner split, when the caller has it already (it must be
        ``per_user_split(train)``); computed otherwise.

    Ties go to the point tried first. Returns a :class:`TuneResult`.
    """
    stages: list[Stage] = [grid] if isinstance(grid, Mapping) else list(grid)
    if not stages:
        raise ValueError("the grid needs at least one stage")
    started = time.perf_counter()
    inner = inner if inner is not None else per_user_split(train)
    metric = f"ndcg@{k}"
    rows: list[dict[str, Any]] = []
    tried: dict[str, float] = {}
    best: dict[str, Any] = {}
    best_score = -np.inf
    for number, stage in enumerate(stages):
        for point in stage_points(stage, best):
            key = _key(point)
            if key in tried:  # a later stage re-listing the best point
                continue
            fit_started = time.perf_counter()
            model = factory(**point).fit(inner.train)
            fit_seconds = time.perf_counter() - fit_started
            result = evaluate_topn(model, inner, k, like_threshold)
            tried[key] = result[metric]
            rows.append({"stage": number, **point,
                         **{m: result[m] for m in (metric, f"recall@{k}", f"hit_rate@{k}")},
                         "fit_seconds": round(fit_seconds, 3)})
            log.info("tune %s %s: inner %s %.4f (fit %.1fs)", name, point, metric,
                     result[metric], fit_seconds)
            if result[metric] > best_score:
                best, best_score = dict(point), float(result[metric])
    table = pl.DataFrame(rows, infer_schema_length=None)
    plain_grid = [{n: list(v) for n, v in stage.items()} for stage in stages]
    return TuneResult(params=best, score=best_score, table=table, grid=plain_grid,
                      seconds=time.perf_counter() - started, metric=metric,
                      on_edge=_edges(stages, best))
