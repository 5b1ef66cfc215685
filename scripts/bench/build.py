"""``scripts/benchmark.py build``: time and peak memory of each build stage against data size.

Every (size, stage, repeat) runs in a fresh Python process (``python -m scripts.bench.build
STAGE DATA OUT``), so the peak resident set size it reports belongs to that stage alone:

* ``load``: :func:`reco.pipelines.features.load_data` on the release;
* ``features``: reco's lazy Polars tables (:func:`reco.features.tables.build_feature_tables`);
* ``features_pandas``: the same tables in pandas (:mod:`scripts.bench.features_pandas`), timed from
  pandas frames (converted from the loaded Polars frames, which are then dropped; the
  conversion is timed apart, as ``convert_seconds``);
* ``cf``: the implicit ALS of the full recommender (``HybridConfig().cf``) on all ratings;
* ``content``: the content model (TF-IDF + truncated SVD, tags included);
* ``train``: the whole build, :func:`reco.pipelines.train.train` (what ``scripts/train.py`` runs),
  with the manifest's step timings and a breakdown of the fit into its parts.

A stage's *stage* peak is measured from the moment its inputs are in memory (the kernel's
high-water mark is reset through ``/proc/self/clear_refs``), so it includes the inputs it
holds; ``process_peak_rss_mb`` also covers loading them. Releases are synthetic and
MovieLens shaped (:mod:`reco.data.synthetic`), generated once into a scratch folder, or reused.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from scripts.bench.profile import Profile, instrument_training, peak_mb, reset_peak, rss_mb

log = logging.getLogger(__name__)

STAGES = ("load", "features", "features_pandas", "cf", "content", "train")
#: Users and movies of the MovieLens release each size imitates.
PRESETS = {"100k": (100_000, 943, 1_682), "1m": (1_000_000, 6_040, 3_706),
           "10m": (10_000_000, 69_878, 10_677), "32m": (32_000_000, 200_948, 87_585)}
MARKER = "bench_shape.json"


@dataclass(frozen=True)
class Size:
    """One data size: a label and the release's shape."""

    label: str
    n_ratings: int
    n_users: int
    n_movies: int

    @classmethod
    def parse(cls, spec: str) -> Size:
        """``100k``, ``1m``, ``10m``, ``32m`` (ml-shaped) or ``RATINGS:USERS:MOVIES``."""
        if spec.lower() in PRESETS:
            return cls(spec.lower(), *PRESETS[spec.lower()])
        try:
            ratings, users, movies = (int(part) for part in spec.split(":"))
        except ValueError:
            raise ValueError(f"size {spec!r}: expected one of {sorted(PRESETS)} or "
                             "RATINGS:USERS:MOVIES") from None
        return cls(f"{ratings:,}", ratings, users, movies)


# ---------------------------------------------------------------- one stage (child side)
def run_stage(stage: str, data_dir: Path, work: Path, fast: bool = False) -> dict[str, Any]:
    """Run one stage in this process; its seconds, RSS figures and details."""
    from reco.pipelines.features import load_data

    started = time.perf_counter()
    extra: dict[str, Any] = {}
    if stage in ("load", "train"):
        inputs = None
    else:
        inputs = load_data(data_dir)
        extra["load_seconds"] = round(time.perf_counter() - started, 3)
    if stage == "features_pandas":  # its inputs are pandas frames; the Polars ones go
        from scripts.bench.features_pandas import to_pandas_frames

        tick = time.perf_counter()
        pandas_inputs = to_pandas_frames(inputs.ratings, inputs.movies)
        extra["convert_seconds"] = round(time.perf_counter() - tick, 3)
        inputs = None
    process_peak = peak_mb()
    input_rss = rss_mb()
    exact = reset_peak()
    cpu = time.process_time()  # every thread of this process: cpu / wall = cores kept busy
    tick = time.perf_counter()
    profile = Profile()
    if stage == "load":
        extra["ratings"] = load_data(data_dir).n_ratings
    elif stage == "features":
        from reco.features.tables import build_feature_tables

        extra["rows"] = build_feature_tables(inputs.ratings, inputs.movies).row_counts()
    elif stage == "features_pandas":
        from scripts.bench.features_pandas import build_feature_tables_pandas

        extra["rows"] = build_feature_tables_pandas(*pandas_inputs).row_counts()
    elif stage == "cf":
        from reco.models.mf import ALSRecommender
        from reco.ranking.hybrid import HybridConfig

        model = ALSRecommender(HybridConfig().cf).fit(inputs.ratings)
        extra.update(config=model.config.to_dict(), regularization=model.regularization_)
    elif stage == "content":
        from reco.models.content import ContentRecommender

        ContentRecommender().fit(inputs.ratings, inputs.movies, tags=inputs.tags,
                                 links=inputs.links)
    elif stage == "train":
        from reco.evaluation.protocol import fast_config
        from reco.pipelines.train import train

        instrument_training(profile)
        manifest = train(data_dir, work / "artifacts", config=fast_config() if fast else None)
        extra.update(manifest_timings=manifest["timings_seconds"], parts=profile.summary(),
                     outside_parts_seconds=round(time.perf_counter() - tick - profile.top_level, 3),
                     windows=manifest["model"]["windows"])
    else:
        raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")
    seconds = time.perf_counter() - tick
    cpu = time.process_time() - cpu
    stage_peak = max(peak_mb(), profile.overall)
    return {"stage": stage, "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
            "stage_peak_rss_mb": round(stage_peak, 1),
            "process_peak_rss_mb": round(max(process_peak, stage_peak), 1),
            "input_rss_mb": round(input_rss, 1), "peak_reset": exact,
            # how busy the machine was (other jobs share it): the 1-minute load average
            "load_average": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
            **extra}


def _stage_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="one build stage (a child of the benchmark)")
    parser.add_argument("stage", choices=STAGES)
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--fast", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    result = run_stage(args.stage, args.data, args.work, args.fast)
    args.out.write_text(json.dumps(result))
    return 0


# ---------------------------------------------------------------- the releases
def release_shape(data_dir: Path) -> tuple[int, int, int] | None:
    """(ratings, users, movies) of a csv release; None when it is not one."""
    marker = data_dir / MARKER
    if marker.is_file():
        shape = json.loads(marker.read_text())
        return shape["n_ratings"], shape["n_users"], shape["n_movies"]
    ratings, movies = data_dir / "ratings.csv", data_dir / "movies.csv"
    if not (ratings.is_file() and movies.is_file()):
        return None
    row = pl.scan_csv(ratings).select(
        pl.len().alias("n"), pl.col("userId").n_unique().alias("u")).collect().row(0)
    return int(row[0]), int(row[1]), pl.scan_csv(movies).select(pl.len()).collect().item()


def prepare_release(size: Size, root: Path, reuse: list[Path], seed: int) -> dict[str, Any]:
    """A csv release of ``size``: a reused folder whose shape matches, or a new one."""
    want = (size.n_ratings, size.n_users, size.n_movies)
    for folder in reuse:
        if release_shape(folder) == want:
            log.info("%s: reusing %s", size.label, folder)
            return {"data_dir": str(folder), "reused": True}
    folder = root / f"syn-{size.n_ratings}-{size.n_users}-{size.n_movies}-s{seed}"
    if release_shape(folder) == want:
        return {"data_dir": str(folder), "reused": True}
    from reco.data.synthetic import SyntheticConfig, make_release

    started = time.perf_counter()
    make_release(SyntheticConfig(n_users=size.n_users, n_movies=size.n_movies,
                                 n_ratings=size.n_ratings, layout="csv", seed=seed), folder)
    seconds = time.perf_counter() - started
    (folder / MARKER).write_text(json.dumps({**asdict(size), "seed": seed}))
    log.info("%s: generated %s in %.1fs", size.label, folder, seconds)
    return {"data_dir": str(folder), "reused": False, "generate_seconds": round(seconds, 2)}


# ---------------------------------------------------------------- the parent
def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def _spawn(stage: str, data_dir: Path, work: Path, fast: bool,
           timeout: float | None) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    out = work / f"{stage}.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "scripts.bench.build", stage, str(data_dir.resolve()),
           str(out.resolve()), "--work", str(work.resolve())] + (["--fast"] if fast else [])
    started = time.perf_counter()
    with open(work / f"{stage}.log", "w") as stderr:
        try:
            # the child must import the same reco as this process, whatever its cwd (``-m``
            # puts the cwd first on sys.path): run it in the scratch folder, reco's parent
            # first on PYTHONPATH
            code = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=stderr, cwd=work,
                                  env=_child_env(), timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
    wall = round(time.perf_counter() - started, 3)
    if code != 0 or not out.is_file():
        tail = (work / f"{stage}.log").read_text().splitlines()[-5:]
        log.error("%s failed (%s): %s", stage, code, tail)
        return {"stage": stage, "error": f"exit {code}", "log_tail": tail, "wall_seconds": wall}
    return {**json.loads(out.read_text()), "wall_seconds": wall}


def _median(values: list[float]) -> float | None:
    return float(np.median(values)) if values else None


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians and the individual values of a stage's repeats (failed runs listed apart)."""
    ok = [r for r in runs if "error" not in r]
    keys = ("seconds", "stage_peak_rss_mb", "process_peak_rss_mb", "wall_seconds")
    out: dict[str, Any] = {f"median_{k}": _median([r[k] for r in ok]) for k in keys}
    out.update({k: [r[k] for r in ok] for k in keys}, runs=runs, failed=len(runs) - len(ok))
    return out


def growth_exponent(ratings: list[int], values: list[float | None]) -> float | None:
    """Slope of log(value) against log(ratings) (1 = linear) over sizes of >= 1M ratings."""
    pts = [(np.log(n), np.log(v)) for n, v in zip(ratings, values)
           if v is not None and v > 0 and n >= 1_000_000]
    if len(pts) < 2:
        return None
    x, y = np.array(pts).T
    return round(float(np.polyfit(x, y, 1)[0]), 3)


def _paired_ratio(runs: dict[str, list[dict[str, Any]]], base: str, other: str,
                  key: str) -> dict[str, Any]:
    """``other`` seconds / ``base`` seconds within each repeat, and their median, as
    ``key_runs`` and ``key`` (nothing when no repeat has both)."""
    pairs = zip(runs.get(base, []), runs.get(other, []))
    ratios = [round(b["seconds"] / a["seconds"], 3) for a, b in pairs
              if "error" not in a and "error" not in b and a["seconds"] > 0]
    if not ratios:
        return {}
    return {f"{key}_runs": ratios, key: round(float(np.median(ratios)), 2)}


def run_build(sizes: list[Size], stages: list[str], repeats: int, root: Path,
              reuse: list[Path], seed: int = 42, train_repeats: int | None = None,
              pandas_max_ratings: int | None = None, fast: bool = False,
              timeout: float | None = None) -> dict[str, Any]:
    """Every stage at every size, ``repeats`` times (fresh processes); JSON-ready."""
    result: dict[str, Any] = {"stages": stages, "repeats": repeats, "seed": seed,
                              "train_repeats": train_repeats or repeats, "fast_config": fast,
                              "cpus": os.cpu_count(), "sizes": []}
    for size in sizes:
        entry: dict[str, Any] = {**asdict(size), **prepare_release(size, root, reuse, seed)}
        runs: dict[str, list[dict[str, Any]]] = {s: [] for s in stages}
        skipped = {}
        for repeat in range(repeats):  # repeats outermost: background noise hits all stages
            for stage in stages:
                if stage == "features_pandas" and pandas_max_ratings is not None \
                        and size.n_ratings > pandas_max_ratings:
                    skipped[stage] = f"over --pandas-max-ratings {pandas_max_ratings}"
                    continue
                if stage == "train" and repeat >= (train_repeats or repeats):
                    continue
                log.info("%s, repeat %d/%d: %s ...", size.label, repeat + 1, repeats, stage)
                run = _spawn(stage, Path(entry["data_dir"]), root / "work" / size.label, fast,
                             timeout)
                log.info("%s %s: %s s, stage peak %s MB", size.label, stage,
                         run.get("seconds"), run.get("stage_peak_rss_mb"))
                runs[stage].append(run)
        entry["stages"] = {s: summarise(r) for s, r in runs.items() if r}
        entry["skipped"] = skipped
        # pandas / Polars, and the whole build / one implicit-ALS fit, within each repeat
        entry.update(_paired_ratio(runs, "features", "features_pandas", "pandas_over_polars"))
        entry.update(_paired_ratio(runs, "cf", "train", "build_over_als"))
        result["sizes"].append(entry)
    ratings = [e["n_ratings"] for e in result["sizes"]]
    result["growth_exponent"] = {
        stage: {key: growth_exponent(ratings, [e["stages"].get(stage, {}).get(f"median_{key}")
                                               for e in result["sizes"]])
                for key in ("seconds", "stage_peak_rss_mb")} for stage in stages}
    return result


if __name__ == "__main__":
    raise SystemExit(_stage_main(sys.argv[1:]))
