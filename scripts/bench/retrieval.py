"""The ``retrieval`` benchmark (issue 17): what the index of item vectors costs in answers
and saves in time, and each request's parts beside the floors of this machine.

In one process, on a published store (a large catalog: the index is built from 20k
movies), for ``requests`` random known users, each answered twice by the same loaded
model, once by the exact scan of every movie and once through the index
(:mod:`reco.ranking.retrieval`):

- per source (CF, content), the recall of the index's candidates against the exact
  scan's, and the overlap of the final top-10 lists;
- the median time of a whole answer (:meth:`RecoService.recommend`) and of its parts
  (candidates, feature rows, the XGBoost call, the rest), on both paths;
- the floors: this machine's memory read bandwidth, one read of the stored CF and content
  vectors (what the exact path reads per request), and one XGBoost call on as many rows
  as a request's candidates.

With ``--data`` (ml-latest-small), the protocol's split is fitted once with the default
config and ranked twice, exact and with an index forced onto its small catalog, for
the NDCG@10 the index costs on real data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

TITLE = "Retrieval: the index of item vectors at 32M (issue 17)"
PARTS = ("user context", "candidates", "feature rows", "XGBoost", "P(like)", "the rest")


class _Parts:
    """Seconds inside named functions during one answer (a plain clock: microseconds)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def wrap(self, owner: Any, attr: str, name: str) -> Callable[[], None]:
        original = getattr(owner, attr)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

        setattr(owner, attr, timed)
        return lambda: setattr(owner, attr, original)


@contextmanager
def _timed_parts(parts: _Parts) -> Iterator[None]:
    from reco.ranking import hybrid
    from reco.ranking.stage_arrays import FeatureStore
    from reco.serving import service

    undo = [parts.wrap(FeatureStore, "known_users", "user context"),
            parts.wrap(hybrid, "generate_candidates", "candidates"),
            parts.wrap(hybrid, "pair_features", "feature rows"),
            parts.wrap(hybrid, "predict", "XGBoost"),
            parts.wrap(service, "like_probability", "P(like)")]
    try:
        yield
    finally:
        for step in undo:
            step()


def _with_retrieval(service: Any, enabled: bool) -> None:
    model = service.model
    model.config = replace(model.config, retrieval=replace(model.config.retrieval,
                                                           enabled=enabled))


def _floors(service: Any, rows: int, repeats: int = 30) -> dict[str, float]:
    """Medians (ms) of what a request cannot go below on this machine."""
    from reco.ranking.booster import predict
    from reco.ranking.schema import RANK_FEATURES

    store = service.model.stage_.store
    big = np.ones(64 * 2**20, dtype=np.float32)  # 256 MB: well beyond the caches
    times = []
    for _ in range(5):
        started = time.perf_counter()
        big.sum()
        times.append(time.perf_counter() - started)
    bandwidth = big.nbytes / np.median(times) / 1e9
    rng = np.random.default_rng(0)
    query_cf = rng.normal(size=store.cf_items.shape[1]).astype(np.float32)
    scan = []
    for _ in range(repeats):
        started = time.perf_counter()
        store.cf_items @ query_cf
        if store.content is not None:
            store.content_emb @ rng.normal(size=store.content_emb.shape[1]).astype(np.float32)
        scan.append(time.perf_counter() - started)
    features = rng.normal(size=(rows, len(RANK_FEATURES)))
    xgb = []
    for _ in range(repeats):
        started = time.perf_counter()
        predict(service.model.ranker_, features, RANK_FEATURES)
        xgb.append(time.perf_counter() - started)
    vector_mb = (store.cf_items.nbytes + (store.content_emb.nbytes if store.content is not None
                                          else 0)) / 1e6
    return {"memory_read_gb_per_s": round(bandwidth, 2), "stored_vectors_mb": round(vector_mb, 1),
            "one_scan_of_the_vectors_ms": round(float(np.median(scan)) * 1e3, 3),
            "one_scan_at_bandwidth_ms": round(vector_mb / 1e3 / bandwidth * 1e3, 3),
            "xgboost_call_ms": round(float(np.median(xgb)) * 1e3, 3), "xgboost_rows": rows}


def _private_mb() -> float | None:
    """This process's private resident memory (Linux ``RssAnon``), MB; None elsewhere.
    What loading a version adds to it is what each serving worker holds on its own (the
    mapped files are shared by the workers through the page cache)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _source_sets(service: Any, user: int, exact: bool) -> dict[str, set[int]]:
    from reco.ranking.candidates import generate_candidates

    model = service.model
    context = model.stage_.store.known_users(np.array([user]))
    found = generate_candidates(context, model.stage_.store, model.config.candidates,
                                model.config.retrieval, exact=exact)
    return {source: set(found.movie_ids[np.isfinite(ranks)].tolist())
            for source, ranks in found.ranks.items()}


def _similar_ab(service: Any, rng: np.random.Generator, requests: int) -> dict[str, Any]:
    """``/similar`` for random movies, exact and through the index: top-10 overlap, p50."""
    movies = rng.choice(service.model.item_map_.ids, size=requests)
    times: dict[bool, list[float]] = {False: [], True: []}
    overlap = []
    for movie in movies[:50]:
        for enabled in (False, True):
            _with_retrieval(service, enabled)
            service.similar(int(movie))
    for movie in movies:
        answers = {}
        for enabled in (False, True):
            _with_retrieval(service, enabled)
            begun = time.perf_counter()
            answer = service.similar(int(movie))
            times[enabled].append(time.perf_counter() - begun)
            answers[enabled] = {item["movie_id"] for item in answer["items"]}
        overlap.append(len(answers[False] & answers[True]) / max(len(answers[False]), 1))
    return {"movies": int(requests), "top10_overlap": round(float(np.mean(overlap)), 4),
            "identical_lists": round(float(np.mean(np.array(overlap) == 1.0)), 4),
            "exact_p50_ms": round(float(np.median(times[False])) * 1e3, 3),
            "index_p50_ms": round(float(np.median(times[True])) * 1e3, 3)}


def run_requests(artifacts: Path, requests: int, seed: int = 0,
                 threads: int = 1) -> dict[str, Any]:
    """The in-process comparison on a published store (see the module docstring), with
    BLAS, OpenMP and XGBoost held to ``threads`` each: 1 is what a serving worker has
    (``scripts/serve.py`` gives each of 2 workers one of the 2 cores)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        return _run_requests(artifacts, requests, seed, threads)


def _run_requests(artifacts: Path, requests: int, seed: int, threads: int) -> dict[str, Any]:
    from reco.serving.service import RecoService

    started = time.perf_counter()
    before = _private_mb()
    service = RecoService.load(artifacts, checksums=False)
    load_seconds = time.perf_counter() - started
    after = _private_mb()
    load_private_mb = None if before is None or after is None else after - before
    model = service.model
    for booster in (model.ranker_, model.like_model_):
        booster.set_param({"nthread": threads})
    if not model.stage_.retrieval:
        raise SystemExit(f"{artifacts}: its current version has no retrieval index "
                         f"(the catalog has {len(model.item_map_):,} movies; one is built "
                         f"from {model.config.retrieval.min_items:,})")
    rng = np.random.default_rng(seed)
    users = rng.choice(model.user_map_.ids, size=requests, replace=requests > len(model.user_map_))
    for user in users[:50]:  # warm up both paths (the index's layout is built on first use)
        for enabled in (False, True):
            _with_retrieval(service, enabled)
            service.recommend(int(user))
    recall: dict[str, list[float]] = {}
    overlap, answers = [], {False: [], True: []}
    times: dict[bool, list[float]] = {False: [], True: []}
    parts: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    for user in users:
        for enabled in (False, True):
            _with_retrieval(service, enabled)
            timer = _Parts()
            with _timed_parts(timer):
                begun = time.perf_counter()
                answer = service.recommend(int(user))
                total = time.perf_counter() - begun
            times[enabled].append(total)
            timer.seconds["the rest"] = total - sum(timer.seconds.values())
            parts[enabled].append(timer.seconds)
            answers[enabled].append([item["movie_id"] for item in answer["items"]])
        exact_ids, index_ids = answers[False][-1], answers[True][-1]
        overlap.append(len(set(exact_ids) & set(index_ids)) / max(len(exact_ids), 1))
        exact_sets, index_sets = (_source_sets(service, int(user), e) for e in (True, False))
        for source in ("cf", "content"):
            if exact_sets.get(source):
                recall.setdefault(source, []).append(
                    len(exact_sets[source] & index_sets[source]) / len(exact_sets[source]))
    similar = _similar_ab(service, rng, requests)
    _with_retrieval(service, True)

    def ms(values: list[float]) -> dict[str, float]:
        return {"p50_ms": round(float(np.median(values)) * 1e3, 3),
                "p99_ms": round(float(np.percentile(values, 99)) * 1e3, 3)}

    def part_medians(rows: list[dict[str, float]]) -> dict[str, float]:
        return {name: round(float(np.median([r.get(name, 0.0) for r in rows])) * 1e3, 3)
                for name in PARTS}

    rows = int(np.median([len(model.rank_context(model.stage_.store.known_users(
        np.array([u])))[1]) for u in users[:50]]))
    indexes = {name: {"items": len(index), "lists": int(index.centroids.shape[0])}
               for name, index in model.stage_.retrieval.items()}
    return {
        "artifacts": str(artifacts), "requests": int(requests), "seed": seed,
        "threads": threads,
        "catalog_movies": len(model.item_map_), "users": len(model.user_map_),
        "load_seconds": round(load_seconds, 2),
        "load_private_mb": None if load_private_mb is None else round(load_private_mb, 1),
        "indexes": indexes,
        "scan": model.config.retrieval.scan,
        "recall": {s: {"mean": round(float(np.mean(v)), 4), "p10": round(float(
            np.percentile(v, 10)), 4), "users": len(v)} for s, v in recall.items()},
        "top10_overlap": {"mean": round(float(np.mean(overlap)), 4),
                          "identical_lists": round(float(np.mean(np.array(overlap) == 1.0)), 4)},
        "exact": {**ms(times[False]), "parts_ms": part_medians(parts[False])},
        "index": {**ms(times[True]), "parts_ms": part_medians(parts[True])},
        "floors": _floors(service, rows), "similar": similar,
    }


def run_quality(data_dir: Path) -> dict[str, Any]:
    """NDCG@10 of one fit ranked exactly and through an index (see the module docstring)."""
    from reco.data.movielens import load_movielens
    from reco.data.split import per_user_split
    from reco.evaluation.metrics import evaluate_topn
    from reco.evaluation.protocol import tags_seen_in_train
    from reco.ranking.hybrid import HybridRecommender
    from reco.ranking.retrieval import RetrievalConfig, index_stage

    data = load_movielens(data_dir)
    split = per_user_split(data.ratings)
    tags = tags_seen_in_train(data.tags, split, data.ratings)
    model = HybridRecommender().fit(split.train, data.movies, tags=tags, links=data.links)
    exact = replace(model.config.retrieval, enabled=False)
    model.config = replace(model.config, retrieval=exact)
    before = evaluate_topn(model, split)
    # the same fit, its small catalog indexed as a large one is, every user searched
    forced = replace(RetrievalConfig(), min_items=1, max_users=1 << 20)
    model.stage_.retrieval = index_stage(model.stage_, forced)
    model.config = replace(model.config, retrieval=forced)
    after = evaluate_topn(model, split)
    lists = {name: int(index.centroids.shape[0]) for name, index in model.stage_.retrieval.items()}
    return {"data": str(data_dir), "ndcg@10_exact": round(before["ndcg@10"], 4),
            "ndcg@10_index": round(after["ndcg@10"], 4),
            "change": round(after["ndcg@10"] / before["ndcg@10"] - 1, 4),
            "recall@10_exact": round(before["recall@10"], 4),
            "recall@10_index": round(after["recall@10"], 4), "lists": lists,
            "scan": forced.scan, "users": before["n_users"]}


def render_retrieval(result: dict[str, Any], command: str) -> str:
    """The section of docs/BENCHMARKS.md."""
    req = result.get("requests_result")
    load = ", ".join(f"{x:.2f}" for x in result["provenance"]["load_average"] or [])
    lines = [f"Command: `{command}`", "", f"Host load average (1, 5, 15 min) at the start: "
             f"{load} (2 cores), {result['provenance']['started']}.", ""]
    if req is not None:
        idx = ", ".join(f"{n}: {v['items']:,} movies in {v['lists']:,} lists"
                        for n, v in req["indexes"].items())
        lines += [f"Store `{req['artifacts']}`: {req['catalog_movies']:,} movies, "
                  f"{req['users']:,} users; index {idx}; a query reads at least "
                  f"{req['scan']:.0%} of the movies. {req['requests']:,} random known users, "
                  "each answered by the exact scan and through the index, in one process "
                  f"with {req.get('threads', 'default')} thread(s) each for BLAS, OpenMP and "
                  "XGBoost (1: what a serving worker has).", "",
                  "| figure | value |", "| --- | ---: |"]
        for source, r in req["recall"].items():
            lines.append(f"| recall of the {source} candidates against the exact scan "
                         f"(mean, p10) | {r['mean']:.3f}, {r['p10']:.3f} |")
        lines += [f"| top-10 overlap with the exact answer (mean) | "
                  f"{req['top10_overlap']['mean']:.3f} |",
                  f"| answers identical to the exact one | "
                  f"{req['top10_overlap']['identical_lists']:.2%} |", "",
                  "| part of `recommend` (median ms) | exact scan | index |",
                  "| --- | ---: | ---: |"]
        for part in PARTS:
            lines.append(f"| {part} | {req['exact']['parts_ms'][part]:.2f} | "
                         f"{req['index']['parts_ms'][part]:.2f} |")
        lines += [f"| **whole answer, p50** | {req['exact']['p50_ms']:.2f} | "
                  f"{req['index']['p50_ms']:.2f} |",
                  f"| whole answer, p99 | {req['exact']['p99_ms']:.2f} | "
                  f"{req['index']['p99_ms']:.2f} |", ""]
        sim = req["similar"]
        lines += [f"`similar` for {sim['movies']:,} random movies (each title chosen from the "
                  "index's nearest titles in each space, then scored exactly as before): "
                  f"p50 {sim['exact_p50_ms']:.2f} ms exact, {sim['index_p50_ms']:.2f} ms through "
                  f"the index; top-10 overlap with the exact answer {sim['top10_overlap']:.3f} "
                  f"({sim['identical_lists']:.1%} of the lists identical).", ""]
        if req.get("load_private_mb") is not None:
            lines += [f"Loading the version took {req['load_seconds']:.2f} s in this process and "
                      f"added {req['load_private_mb']:,.0f} MB of private memory (what each "
                      "serving worker holds of its own; the mapped files are shared).", ""]
        f = req["floors"]
        lines += ["Floors on this machine (medians): memory read "
                  f"{f['memory_read_gb_per_s']:.1f} GB/s; the stored CF and content vectors "
                  f"are {f['stored_vectors_mb']:.0f} MB, read in "
                  f"{f['one_scan_at_bandwidth_ms']:.2f} ms at that bandwidth and scanned "
                  "(one matrix-vector product each) in "
                  f"{f['one_scan_of_the_vectors_ms']:.2f} ms; one XGBoost call on "
                  f"{f['xgboost_rows']} rows (a request's candidates) takes "
                  f"{f['xgboost_call_ms']:.2f} ms. These are in-process times: the HTTP "
                  "figures (gunicorn, a client) are in the serving section.", ""]
    quality = result.get("quality")
    if quality is not None:
        lines += [f"On `{quality['data']}` (the protocol's per-user split, default config, one "
                  f"fit): NDCG@10 {quality['ndcg@10_exact']:.4f} exact, "
                  f"{quality['ndcg@10_index']:.4f} with every user's candidates searched in an "
                  f"index forced onto its small catalog ("
                  f"{', '.join(f'{n}: {v} lists' for n, v in quality['lists'].items())}, scan "
                  f"{quality['scan']:.0%}): a change of {quality['change']:+.2%} (target: "
                  "within 0.5 %). The like model does not read the candidates, so its AUC is "
                  "the same on both paths.", ""]
    return "\n".join(lines)
