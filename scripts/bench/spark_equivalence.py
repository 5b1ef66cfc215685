"""Honest equivalence (issue 18): the single-machine and the Spark engine fitted on the same
protocol split, judged by the same evaluation (docs/SCALING.md, "Equivalence").

    PYTHONPATH=. python -m scripts.bench.spark_equivalence \\
        --data ../shared/data/ml-latest-small --spark-master local[2] --out artifacts/spark-eq.json

Per-user split of ``shared/EVALUATION.md`` (reco.data.split.per_user_split); each engine
fits ``HybridRecommender`` (default config) on the training part with the tags seen by
then; NDCG@10 by :func:`reco.evaluation.metrics.evaluate_topn`, the like model's AUC on
the test ratings by :func:`reco.evaluation.metrics.classification_metrics`; both with
the fit's wall time and the host load before and after.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from reco.cli import setup_logging  # noqa: E402

log = logging.getLogger("reco.bench.spark_equivalence")


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def measure(data_dir: Path, master: str, partitions: int) -> dict[str, Any]:
    from reco.columns import MOVIE_ID, RATING, USER_ID
    from reco.data.movielens import load_movielens
    from reco.data.split import LIKE_THRESHOLD, per_user_split
    from reco.evaluation.metrics import classification_metrics, evaluate_topn
    from reco.evaluation.protocol import tags_seen_in_train
    from reco.pipelines.spark.session import SparkConfig, spark_session
    from reco.pipelines.spark.train import fit_hybrid
    from reco.ranking.hybrid import HybridConfig, HybridRecommender, TextInputs

    data = load_movielens(data_dir)
    split = per_user_split(data.ratings)
    tags = tags_seen_in_train(data.tags, split, data.ratings)
    test = split.test
    liked = (test[RATING].to_numpy() >= LIKE_THRESHOLD).astype(int)
    out: dict[str, Any] = {"data": str(data_dir), "split": split.summary(), "engines": {}}

    def judge(name: str, model: Any, seconds: float, load: list[float]) -> None:
        topn = evaluate_topn(model, split, k=10)
        like = classification_metrics(liked, model.predict_like(test[USER_ID].to_numpy(),
                                                                 test[MOVIE_ID].to_numpy()))
        out["engines"][name] = {"ndcg@10": topn["ndcg@10"], "recall@10": topn.get("recall@10"),
                                "like_auc": like["auc"], "fit_seconds": round(seconds, 1),
                                "load_before": load, "load_after": _load(),
                                "windows": model.window_}
        log.info("%s: NDCG@10 %.4f, like AUC %.4f, fit %.0fs", name, topn["ndcg@10"],
                 like["auc"], seconds)

    load = _load()
    started = time.perf_counter()
    # one label window, as the Spark engine trains (its fit sets earlier_windows=0)
    local = HybridRecommender(HybridConfig(earlier_windows=0)).fit(
        split.train, data.movies, tags=tags, links=data.links)
    judge("local", local, time.perf_counter() - started, load)
    config = SparkConfig(master=master, shuffle_partitions=partitions, ui=False,
                         conf=(("spark.driver.host", "127.0.0.1"),
                               ("spark.driver.bindAddress", "127.0.0.1")))
    with spark_session(config) as spark:
        load = _load()
        started = time.perf_counter()
        remote = fit_hybrid(spark, spark.createDataFrame(split.train.to_arrow()),
                            TextInputs(data.movies, tags, data.links))
        seconds = time.perf_counter() - started
        out["spark_version"] = spark.version
    judge("spark", remote, seconds, load)
    a, b = out["engines"]["local"], out["engines"]["spark"]
    out["ndcg_relative_difference"] = (b["ndcg@10"] - a["ndcg@10"]) / a["ndcg@10"]
    out["auc_difference"] = b["like_auc"] - a["like_auc"]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument("--spark-partitions", type=int, default=8)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    setup_logging()
    result = measure(args.data, args.spark_master, args.spark_partitions)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    log.info("written %s: NDCG@10 relative difference %+.2f%%, AUC difference %+.4f", args.out,
             100 * result["ndcg_relative_difference"], result["auc_difference"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
