"""Benchmarks for docs/BENCHMARKS.md (medians of repeated runs; never timed tests).

    python scripts/benchmark.py serve --artifacts /tmp/art_small --requests 1000 --repeats 5 \
        --concurrency 2 --doc docs/BENCHMARKS.md --name ml-latest-small
    python scripts/benchmark.py build --sizes 100k 1m 10m 32m --out /tmp/bench/build.json \\
        --plot docs/img/bench_build.png --doc docs/BENCHMARKS.md
    python scripts/benchmark.py peers --data ../shared/data/ml-latest-small --sizes 1m 10m 32m \\
        --out /tmp/bench/peers.json --doc docs/BENCHMARKS.md
    python scripts/benchmark.py lifecycle --kills 12 --requests 20000 --concurrency 4 \\
        --out /tmp/bench/lifecycle.json --doc docs/BENCHMARKS.md
    python scripts/benchmark.py feedback --artifacts /tmp/fb_store_small \
        --postgres-url postgresql://reco@127.0.0.1:5432/reco_test --doc docs/BENCHMARKS.md
    python scripts/benchmark.py explain --artifacts /tmp/like_store_small --requests 1000 \\
        --repeats 3 --doc docs/BENCHMARKS.md
    python scripts/benchmark.py start --artifacts /tmp/store32m --repeats 5 \\
        --baseline-root /tmp/reco-old --baseline-artifacts /tmp/old32m --doc docs/BENCHMARKS.md

serve: starts scripts/serve.py (gunicorn, 2 workers) on loopback and loads it from this
process: p50/p99 latency and requests/s of GET /recommend/<user>, GET /similar/<movie>,
POST /recommend (a person the model never saw) and GET /movies/<movie> (no model: the HTTP
floor), and the server start time
(:mod:`scripts.bench.serve`); ``--doc`` writes them with the targets into a section.

build: time and peak RSS of each build stage (load, features in Polars and in pandas, CF,
content, the whole build) against data size, each stage in a fresh process
(:mod:`scripts.bench.build`, reported by :mod:`scripts.bench.report`). peers: reco's ALS
against implicit's ALS and Surprise's SVD, fit time and NDCG@10 on one protocol split per
release (:mod:`scripts.bench.peers`). lifecycle (issue 13): ``kill -9`` of a train at points
of its save phase and a retrain under load, against a real server on a fresh store: failed
requests, the version served after each kill, worker crashes, seconds to serve the new
version, latency before/during/after and start time (:mod:`scripts.bench.lifecycle`).
start (issue 13): the sha256 pass over a version and the server's start time, alternating
with a baseline checkout (:mod:`scripts.bench.start`). slowclients (issue 14): connections
trickling a byte a second against probes of /health and /recommend, per gunicorn worker
class (:mod:`scripts.bench.slowclients`). attack (issue 14): over 200 hand-written hostile
raw requests, each judged by its answer (:mod:`scripts.bench.attack`). search (issue 15):
title search p50 over a synthetic 87k-title catalogue built from ml-latest-small's titles
(:mod:`scripts.bench.search`). feedback (issue 16):
``POST /users/<id>/ratings`` latency, the cost of folding in stored ratings on
``GET /recommend``, and 8 writers x 500 ratings with worker kill -9, on SQLite and
PostgreSQL (:mod:`scripts.bench.feedback`). explain (issue 15): latency of
``GET /users/<u>/movies/<m>`` (P(like) and its explanation) and of
``/recommend?explain=true`` against plain ``/recommend`` on one server
(:mod:`scripts.bench.explain`). mixed (issue 14): the serving stacks alternating under one
bounded mixed load (:mod:`scripts.bench.mixed`). retrieval (issue 17): the index of item
vectors against the exact scan on one loaded store (recall, top-10 overlap, each part of an
answer, the machine's floors) and NDCG@10 with and without it (:mod:`scripts.bench.retrieval`).
refit (issue 17): the refit on all ratings cold or warm-started, and the rating model: their
NDCG@10 and like AUC (:mod:`scripts.bench.refit`). windows (issue 19): reco full's NDCG@10,
like AUC and fit time by the number of earlier label windows, on ml-latest-small, its cuts
and optionally the synthetic releases of the generality suite (:mod:`scripts.bench.windows`).

    python scripts/benchmark.py search --data ../shared/data/ml-latest-small --titles 87585 \\
        --repeats 50 --doc docs/BENCHMARKS.md
    python scripts/benchmark.py mixed --artifacts /tmp/store_small --stacks sync gevent front \\
        --requests 20000 --concurrency 8 --repeats 2 --doc docs/BENCHMARKS.md
    python scripts/benchmark.py retrieval --artifacts /tmp/store32m --requests 2000 \\
        --data ../shared/data/ml-latest-small --doc docs/BENCHMARKS.md
    python scripts/benchmark.py windows --data ../shared/data/ml-latest-small --windows 0 1 2 3 \\
        --synthetic synthetic-100k synthetic-400k --out /tmp/windows.json
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file from a clone that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reco.cli import setup_logging  # noqa: E402


def serve(args: argparse.Namespace, command: str) -> dict:
    from scripts.bench import report as br
    from scripts.bench import serve as bs

    result = bs.run_serve(args.artifacts, args.requests, args.concurrency, args.workers,
                          args.repeats, stack=args.stack)
    result.update(command=command, provenance=br.provenance(), targets=bs.serve_targets(result))
    if args.doc is not None:
        name = args.name or str(args.artifacts)
        br.update_doc_section(args.doc, f"Serving: {name} (issue: serving)",
                              bs.render_serve(result, command, name))
    return result


def _add_build(sub: argparse._SubParsersAction) -> None:
    from scripts.bench.build import STAGES

    b = sub.add_parser("build", help="time and peak RSS per build stage against data size")
    b.add_argument("--sizes", nargs="+", default=["100k", "1m", "10m", "32m"],
                   help="100k, 1m, 10m, 32m (ml-shaped) or RATINGS:USERS:MOVIES")
    b.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    b.add_argument("--repeats", type=int, default=3)
    b.add_argument("--train-repeats", type=int, default=None,
                   help="repeats of the whole build (default: --repeats)")
    b.add_argument("--pandas-max-ratings", type=int, default=None,
                   help="skip the pandas features above this many ratings")
    b.add_argument("--fast", action="store_true", help="the cheap smoke config for train")
    b.add_argument("--timeout", type=float, default=None, help="seconds per stage process")
    b.add_argument("--plot", type=Path, default=None, help="write the cost curve PNG here")


def _add_peers(sub: argparse._SubParsersAction) -> None:
    from scripts.bench.peers import PeerSettings

    d = PeerSettings()
    p = sub.add_parser("peers", help="reco ALS vs implicit ALS vs Surprise SVD")
    p.add_argument("--data", type=Path, action="append", default=[],
                   help="a MovieLens release folder (repeatable)")
    p.add_argument("--sizes", nargs="*", default=[], help="synthetic sizes, as for build")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--factors", type=int, default=d.factors)
    p.add_argument("--iterations", type=int, default=d.iterations)
    p.add_argument("--threads", type=int, default=d.threads)
    p.add_argument("--surprise-max-ratings", type=int, default=d.surprise_max_ratings)
    p.add_argument("--eval-max-users", type=int, default=None,
                   help="judge a uniform sample of this many test users (default: all)")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-root", type=Path, default=Path("/tmp/reco-bench"),
                        help="synthetic releases and scratch files go here")
    parser.add_argument("--reuse", type=Path, action="append", default=[],
                        help="an existing csv release to use for the size it matches")
    parser.add_argument("--seed", type=int, default=42, help="synthetic data seed")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON here too")
    parser.add_argument("--doc", type=Path, default=None,
                        help="update this Markdown file's section (docs/BENCHMARKS.md)")


def _releases(args: argparse.Namespace) -> list[tuple[str, Path]]:
    from scripts.bench.build import Size, prepare_release

    found = [(folder.name, folder) for folder in args.data]
    for spec in args.sizes:
        size = Size.parse(spec)
        prepared = prepare_release(size, args.data_root, args.reuse, args.seed)
        found.append((f"synthetic {size.label}", Path(prepared["data_dir"])))
    return found


def build(args: argparse.Namespace, command: str) -> dict:
    from scripts.bench import build as bb
    from scripts.bench import report as br

    result = bb.run_build([bb.Size.parse(s) for s in args.sizes], args.stages, args.repeats,
                          args.data_root, args.reuse, args.seed, args.train_repeats,
                          args.pandas_max_ratings, args.fast, args.timeout)
    result.update(command=command, provenance=br.provenance(), targets=br.build_targets(result))
    if args.plot is not None:
        br.plot_build(result, args.plot)
    if args.doc is not None:
        image = None if args.plot is None else os.path.relpath(args.plot.resolve(),
                                                               args.doc.resolve().parent)
        br.update_doc_section(args.doc, br.BUILD_TITLE, br.render_build(result, command, image))
    return result


def peers(args: argparse.Namespace, command: str) -> dict:
    from scripts.bench import peers as bp
    from scripts.bench import report as br

    settings = bp.PeerSettings(factors=args.factors, iterations=args.iterations,
                               threads=args.threads,
                               surprise_max_ratings=args.surprise_max_ratings,
                               eval_max_users=args.eval_max_users)
    result = bp.run_peers(_releases(args), settings, args.repeats)
    result.update(command=command, provenance=br.provenance(), targets=bp.peer_targets(result))
    if args.doc is not None:
        br.update_doc_section(args.doc, bp.PEERS_TITLE, bp.render_peers(result, command))
    return result


def _add_lifecycle(sub: argparse._SubParsersAction) -> None:
    li = sub.add_parser("lifecycle", help="kill -9 a publishing train; retrain under load")
    li.add_argument("--kills", type=int, default=12, help="kill points in the save phase")
    li.add_argument("--requests", type=int, default=20000, help="live-retrain requests")
    li.add_argument("--concurrency", type=int, default=4, help="live-retrain client threads")
    li.add_argument("--kill-concurrency", type=int, default=2,
                    help="client threads during the kill test")
    li.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    li.add_argument("--reload-seconds", type=float, default=1.0)
    li.add_argument("--time-limit", type=float, default=900.0,
                    help="seconds the live-retrain load may run at most")
    li.add_argument("--data-root", type=Path, default=Path("/tmp/reco-bench"),
                    help="the fresh store and the logs go in a new directory here")
    li.add_argument("--seed", type=int, default=0, help="request mix seed")
    li.add_argument("--data", type=Path, default=None,
                    help="release every train runs on (default: the embedded synthetic one)")
    li.add_argument("--config", default=None, metavar="JSON",
                    help="scripts/train.py --config of every train (default: the defaults)")
    li.add_argument("--out", type=Path, default=None, help="write the JSON here too")
    li.add_argument("--doc", type=Path, default=None,
                    help="update this Markdown file's 'Model lifecycle' section")


def lifecycle(args: argparse.Namespace, command: str) -> dict:
    from scripts.bench import lifecycle as bl
    from scripts.bench import report as br

    if args.kills < 1 or args.requests < 1 or args.concurrency < 1 or args.kill_concurrency < 1:
        raise SystemExit("--kills, --requests and the concurrencies must be at least 1")
    result = bl.run_lifecycle(args.kills, args.requests, args.concurrency,
                              kill_concurrency=args.kill_concurrency, workers=args.workers,
                              reload_seconds=args.reload_seconds, time_limit=args.time_limit,
                              scratch=args.data_root, seed=args.seed,
                              trains=bl.TrainRun(args.data, args.config))
    result.update(command=command, provenance=br.provenance(),
                  targets=bl.lifecycle_targets(result))
    if args.doc is not None:
        br.update_doc_section(args.doc, bl.TITLE, bl.render_lifecycle(result, command))
    return result


def _add_start(sub: argparse._SubParsersAction) -> None:
    st = sub.add_parser("start", help="server start and verification cost, A/B a baseline")
    st.add_argument("--artifacts", type=Path, required=True, help="the store to serve")
    st.add_argument("--repeats", type=int, default=5)
    st.add_argument("--baseline-root", type=Path, default=None,
                    help="a checkout of another reco (e.g. git worktree add /tmp/old REV)")
    st.add_argument("--baseline-artifacts", type=Path, default=None,
                    help="artifacts that checkout reads (e.g. a format-2 directory)")
    st.add_argument("--out", type=Path, default=None, help="write the JSON here too")
    st.add_argument("--doc", type=Path, default=None,
                    help="update this Markdown file's 'Server start' section")


def start(args: argparse.Namespace, command: str) -> dict:
    from scripts.bench import report as br
    from scripts.bench import start as bs

    if (args.baseline_root is None) != (args.baseline_artifacts is None):
        raise SystemExit("give --baseline-root and --baseline-artifacts together")
    result = bs.run_start(args.artifacts, args.repeats, args.baseline_root,
                          args.baseline_artifacts)
    result.update(command=command, provenance=br.provenance())
    if args.doc is not None:
        br.update_doc_section(args.doc, "Server start and verification (issue 13)",
                              bs.render_start(result, command))
    return result


def _add_slow_clients(sub: argparse._SubParsersAction) -> None:
    sc = sub.add_parser("slowclients", help="slow clients trickling bytes vs probes")
    sc.add_argument("--artifacts", type=Path, required=True, help="the store to serve")
    sc.add_argument("--connections", type=int, default=50)
    sc.add_argument("--seconds", type=float, default=60.0)
    sc.add_argument("--stacks", nargs="+", default=["sync", "gevent", "front"],
                    choices=["front", "gevent", "sync", "gthread"],
                    help="one run each, in this order (the last is the one judged)")
    sc.add_argument("--out", type=Path, default=None, help="write the JSON here too")
    sc.add_argument("--doc", type=Path, default=None,
                    help="update this Markdown file's 'Slow clients' section")


def slow_clients(args: argparse.Namespace, command: str) -> dict:
    from scripts.bench import report as br
    from scripts.bench import slowclients as bsc

    runs = [bsc.run_slow_clients(args.artifacts, args.connections, args.seconds,
                                 stack=stack)
            for stack in args.stacks]
    result = {"runs": runs, "command": command, "provenance": br.provenance()}
    if args.doc is not None:
        br.update_doc_section(args.doc, "Slow clients (issue 14)",
                              bsc.render_slow_clients(runs, command))
    return result


def _add_mixed(sub: argparse._SubParsersAction) -> None:
    mx = sub.add_parser("mixed", help="the serving stacks side by side under one mixed load")
    mx.add_argument("--artifacts", type=Path, required=True, help="the store to serve")
    mx.add_argument("--stacks", nargs="+", default=["sync", "gevent", "front"],
                    choices=["front", "gevent", "sync", "gthread"],
                    help="in this order within each repeat (ratios are to the first)")
    mx.add_argument("--requests", type=int, default=20_000, help="per run")
    mx.add_argument("--concurrency", type=int, default=8, help="client threads")
    mx.add_argument("--repeats", type=int, default=3)
    mx.add_argument("--out", type=Path, default=None, help="write the JSON here too")
    mx.add_argument("--doc", type=Path, default=None,
                    help="update this Markdown file's 'Mixed load' section")


def mixed(args: argparse.Namespace, command: str) -> dict:
    from scripts.bench import mixed as bm
    from scripts.bench import report as br

    result = bm.run_mixed(args.artifacts, args.stacks, args.requests, args.concurrency,
                          args.repeats)
    result.update(command=command, provenance=br.provenance())
    if args.doc is not None:
        br.update_doc_section(args.doc, "Mixed load: the serving stacks (issue 14)",
                              bm.render_mixed(result, command))
    return result


def _add_attack(sub: argparse._SubParsersAction) -> None:
    at = sub.add_parser("attack", help="200+ hostile raw requests against a live server")
    at.add_argument("--artifacts", type=Path, required=True, help="the store to serve")
    at.add_argument("--stack", default="front", choices=["front", "gevent", "sync", "gthread"],
                    help="reco's buffering front (default) or gunicorn facing clients")
    at.add_argument("--mixed-requests", type=int, default=0,
                    help="then a bounded mixed load of this many requests (0: none)")
    at.add_argument("--concurrency", type=int, default=8, help="client threads of that load")
    at.add_argument("--out", type=Path, default=None, help="write the JSON here too")
    at.add_argument("--doc", type=Path, default=None,
                    help="update this Markdown file's 'Hostile requests' section")


def attack(args: argparse.Namespace, command: str) -> dict:
    from scripts.bench import attack as ba
    from scripts.bench import report as br

    if not 0 <= args.mixed_requests <= 200_000 or not 1 <= args.concurrency <= 64:
        raise SystemExit("--mixed-requests 0..200000, --concurrency 1..64")
    result = ba.run_attack(args.artifacts, stack=args.stack,
                           mixed_requests=args.mixed_requests, concurrency=args.concurrency)
    result.update(command=command, provenance=br.provenance())
    if args.doc is not None:
        br.update_doc_section(args.doc, "Hostile requests (issue 14)",
                              ba.render_attack(result, command))
    return result


def _add_feedback(sub: argparse._SubParsersAction) -> None:
    fb = sub.add_parser("feedback", help="the feedback loop: write latency, fold-in cost, "
                                         "concurrent writers with kill -9 (issue 16)")
    fb.add_argument("--artifacts", type=Path, required=True, help="the store to serve")
    fb.add_argument("--backends", nargs="+",
                    default=["sqlite", "sqlite-full", "postgresql"],
                    choices=["sqlite", "sqlite-full", "postgresql"],
                    help="sqlite: the default (synchronous=normal); sqlite-full: "
                         "synchronous=full (fsync every commit)")
    fb.add_argument("--postgres-url", default=os.environ.get("RECO_TEST_POSTGRES_URL"),
                    help="a database to create a scratch schema in (default: "
                         "$RECO_TEST_POSTGRES_URL; .ci/postgres.sh starts one)")
    fb.add_argument("--prefill", type=int, default=100_000,
                    help="ratings in the store before measuring (ml-latest-small: 100,836)")
    fb.add_argument("--write-requests", type=int, default=1000)
    fb.add_argument("--fold-users", type=int, default=30)
    fb.add_argument("--fold-rounds", type=int, default=5)
    fb.add_argument("--writers", type=int, default=8)
    fb.add_argument("--per-writer", type=int, default=500)
    fb.add_argument("--kills", type=int, default=3)
    fb.add_argument("--out", type=Path, default=None, help="write the JSON here too")
    fb.add_argument("--doc", type=Path, default=None,
                    help="update this Markdown file's 'Feedback loop (issue 16)' section")


def feedback(args: argparse.Namespace, command: str) -> dict:
    from scripts.bench import feedback as bf
    from scripts.bench import report as br

    if not (0 <= args.prefill <= 10_000_000 and 1 <= args.write_requests <= 100_000
            and 1 <= args.writers <= 64 and 1 <= args.per_writer <= 100_000
            and 0 <= args.kills <= 20 and 1 <= args.fold_users <= 1000):
        raise SystemExit("--prefill 0..1e7, --write-requests 1..1e5, --writers 1..64, "
                         "--per-writer 1..1e5, --kills 0..20, --fold-users 1..1000")
    result = bf.run_feedback(args.artifacts, args.backends, postgres_url=args.postgres_url,
                             prefill_ratings=args.prefill, write_requests=args.write_requests,
                             fold_users=args.fold_users, fold_rounds=args.fold_rounds,
                             writers=args.writers, per_writer=args.per_writer,
                             kills=args.kills)
    result.update(command=command, provenance=br.provenance(),
                  targets=bf.feedback_targets(result))
    if args.doc is not None:
        br.update_doc_section(args.doc, bf.TITLE, bf.render_feedback(result, command))
    return result


def _add_search(sub: argparse._SubParsersAction) -> None:
    se = sub.add_parser("search", help="title search p50 over a synthetic 87k-title catalogue")
    se.add_argument("--data", type=Path, required=True,
                    help="a release with movies.csv and ratings.csv (ml-latest-small)")
    se.add_argument("--titles", type=int, default=87_585, help="catalogue size (ml-latest's)")
    se.add_argument("--repeats", type=int, default=50, help="timings of each query")
    se.add_argument("--out", type=Path, default=None, help="write the JSON here too")
    se.add_argument("--doc", type=Path, default=None,
                    help="update this Markdown file's 'Search (issue 15)' section")


def search(args: argparse.Namespace, command: str) -> dict:
    from scripts.bench import report as br
    from scripts.bench import search as bse

    if not 1 <= args.titles <= 10_000_000 or not 1 <= args.repeats <= 100_000:
        raise SystemExit("--titles 1..10000000, --repeats 1..100000")
    result = bse.run_search(args.data, args.titles, args.repeats)
    result.update(command=command, provenance=br.provenance())
    if args.doc is not None:
        br.update_doc_section(args.doc, "Search (issue 15)", bse.render_search(result, command))
    return result


def _add_explain(sub: argparse._SubParsersAction) -> None:
    ex = sub.add_parser("explain", help="P(like) and explanations: the pair route's latency")
    ex.add_argument("--artifacts", type=Path, required=True, help="the store to serve")
    ex.add_argument("--requests", type=int, default=1000, help="per endpoint and repeat")
    ex.add_argument("--concurrency", type=int, default=2, help="client threads")
    ex.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    ex.add_argument("--repeats", type=int, default=3)
    ex.add_argument("--out", type=Path, default=None, help="write the JSON here too")
    ex.add_argument("--doc", type=Path, default=None,
                    help="update this Markdown file's 'P(like) and explanations' section")


def explain(args: argparse.Namespace, command: str) -> dict:
    import time

    from scripts.bench import explain as be
    from scripts.bench import report as br

    if not 1 <= args.requests <= 100_000 or not 1 <= args.concurrency <= 64 or args.repeats < 1:
        raise SystemExit("--requests 1..100000, --concurrency 1..64, --repeats >= 1")
    result = be.run_explain(args.artifacts, args.requests, args.concurrency, args.workers,
                            args.repeats)
    result.update(command=command, provenance=br.provenance())
    if args.doc is not None:
        br.update_doc_section(args.doc, be.TITLE, be.render_explain(
            result, command, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())))
    return result


def _add_retrieval(sub: argparse._SubParsersAction) -> None:
    re_ = sub.add_parser("retrieval", help="the index of item vectors: answers, time, floors")
    re_.add_argument("--artifacts", type=Path, default=None,
                     help="a store with a large catalog (its version has retrieval.npz)")
    re_.add_argument("--requests", type=int, default=2000, help="random known users")
    re_.add_argument("--threads", type=int, default=1,
                     help="BLAS, OpenMP and XGBoost threads of the process (default 1: a "
                          "serving worker's)")
    re_.add_argument("--data", type=Path, default=None,
                     help="also: NDCG@10 exact and through an index on this release's split")
    re_.add_argument("--out", type=Path, default=None, help="write the JSON here too")
    re_.add_argument("--doc", type=Path, default=None,
                     help="update this Markdown file's retrieval section")


def retrieval(args: argparse.Namespace, command: str) -> dict:
    from scripts.bench import report as br
    from scripts.bench import retrieval as brt

    if args.artifacts is None and args.data is None:
        raise SystemExit("give --artifacts (a large store), --data (a release) or both")
    if not 1 <= args.requests <= 100_000:
        raise SystemExit("--requests 1..100000")
    result: dict = {"command": command, "provenance": br.provenance()}
    if args.artifacts is not None:
        if not 1 <= args.threads <= 64:
            raise SystemExit("--threads 1..64")
        result["requests_result"] = brt.run_requests(args.artifacts, args.requests,
                                                     threads=args.threads)
    if args.data is not None:
        result["quality"] = brt.run_quality(args.data)
    if args.doc is not None:
        br.update_doc_section(args.doc, brt.TITLE, brt.render_retrieval(result, command))
    return result


def _add_refit(sub: argparse._SubParsersAction) -> None:
    rf = sub.add_parser("refit", help="the refit on all ratings cold or warm: its accuracy")
    rf.add_argument("--data", type=Path, required=True, help="a MovieLens release")
    rf.add_argument("--settings", nargs="+", default=["cold", "8"],
                    help="cold, a number of warm sweeps (4/3: the implicit model 4, the rating "
                         "model 3), or either after svd-; +cgK: K CG steps per half-sweep of "
                         "the explicit rating model; +likeN: the like model's tree depth "
                         "(default: cold 8)")
    rf.add_argument("--seeds", type=int, nargs="+", default=[0],
                    help="the ALS models' random states: one fit per seed and setting")
    rf.add_argument("--generality", type=Path, default=None, metavar="DIR",
                    help="also score the generality suite's releases, written into DIR")
    rf.add_argument("--only", action="append", default=None,
                    help="score only this release (repeatable)")
    rf.add_argument("--out", type=Path, default=None, help="write the JSON here too")


def refit(args: argparse.Namespace, command: str) -> dict:
    from scripts.bench import refit as brf
    from scripts.bench import report as br

    try:
        for setting in args.settings:
            brf.parse_setting(setting)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    result = brf.run_refit(args.data, args.settings, seeds=tuple(args.seeds),
                           generality=args.generality, only=args.only)
    result.update(command=command, provenance=br.provenance())
    return result


def _add_windows(sub: argparse._SubParsersAction) -> None:
    w = sub.add_parser("windows", help="the earlier label windows: accuracy and fit time")
    w.add_argument("--data", type=Path, default=None,
                   help="ml-latest-small (or another csv release); its cuts are made too")
    w.add_argument("--windows", nargs="+", type=int, default=[0, 1, 2],
                   help="earlier_windows counts to compare (default: 0 1 2)")
    w.add_argument("--synthetic", nargs="*", default=[],
                   help="synthetic releases of the generality suite to add (e.g. "
                        "synthetic-100k synthetic-400k)")
    w.add_argument("--out", type=Path, default=None, help="write the JSON here too")


def windows(args: argparse.Namespace, command: str) -> dict:
    from reco.evaluation.generality import SYNTHETIC_RELEASES
    from scripts.bench import report as br
    from scripts.bench import windows as bw

    if args.data is None and not args.synthetic:
        raise SystemExit("give --data (a csv release), --synthetic (releases) or both")
    if any(not 0 <= n <= 10 for n in args.windows):
        raise SystemExit("--windows: counts from 0 to 10")
    known = [shape.name for shape in SYNTHETIC_RELEASES]
    unknown = sorted(set(args.synthetic) - set(known))
    if unknown:
        raise SystemExit(f"--synthetic: unknown release(s) {unknown}; one of {known}")
    result = bw.run_windows(args.data, args.windows, args.synthetic)
    result.update(command=command, provenance=br.provenance())
    return result


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="latency and throughput of a gunicorn-served artifact dir")
    s.add_argument("--artifacts", type=Path, required=True)
    s.add_argument("--requests", type=int, default=1000, help="per endpoint and repeat")
    s.add_argument("--concurrency", type=int, default=2, help="client threads")
    s.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    s.add_argument("--stack", default="front", choices=["front", "gevent", "sync", "gthread"],
                   help="reco's buffering front (default) or gunicorn facing clients")
    s.add_argument("--repeats", type=int, default=3)
    s.add_argument("--out", type=Path, default=None, help="write the JSON here too")
    s.add_argument("--doc", type=Path, default=None,
                   help="update this Markdown file's 'Serving: NAME' section")
    s.add_argument("--name", default=None,
                   help="what the artifacts were trained on, for the doc (default: the path)")
    _add_build(sub)
    _add_peers(sub)
    _add_lifecycle(sub)
    _add_start(sub)
    _add_slow_clients(sub)
    _add_attack(sub)
    _add_mixed(sub)
    _add_feedback(sub)
    _add_search(sub)
    _add_explain(sub)
    _add_retrieval(sub)
    _add_refit(sub)
    _add_windows(sub)
    for name in ("build", "peers"):
        _common(sub.choices[name])
    args = parser.parse_args(argv)
    setup_logging()
    command = shlex.join(["python", "scripts/benchmark.py", *argv])
    if args.command == "serve":
        result = serve(args, command)
    elif args.command == "build":
        result = build(args, command)
    elif args.command == "lifecycle":
        result = lifecycle(args, command)
    elif args.command == "start":
        result = start(args, command)
    elif args.command == "slowclients":
        result = slow_clients(args, command)
    elif args.command == "attack":
        result = attack(args, command)
    elif args.command == "feedback":
        result = feedback(args, command)
    elif args.command == "search":
        result = search(args, command)
    elif args.command == "mixed":
        result = mixed(args, command)
    elif args.command == "explain":
        result = explain(args, command)
    elif args.command == "retrieval":
        result = retrieval(args, command)
    elif args.command == "refit":
        result = refit(args, command)
    elif args.command == "windows":
        result = windows(args, command)
    else:
        result = peers(args, command)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
