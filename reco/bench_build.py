"""``scripts/benchmark.py build``: time and peak memory of each build stage against data size.

Every (size, stage, repeat) runs in a fresh Python process (``python -m reco.bench_build
STAGE DATA OUT``), so the peak resident set size it reports belongs to that stage alone:

* ``load``: :func:`reco.pipeline.load_data` on the release;
* ``features``: reco's lazy Polars tables (:func:`reco.features.build_feature_tables`);
* ``features_pandas``: the same tables in pandas (:mod:`reco.features_pandas`), timed from
  pandas frames (converted from the loaded Polars frames, which are then dropped; the
  conversion is timed apart, as ``convert_seconds``);
* ``cf``: the implicit ALS of the full recommender (``HybridConfig().cf``) on all ratings;
* ``content``: the content model (TF-IDF + truncated SVD, tags included);
* ``train``: the whole build, :func:`reco.training.train` (what ``scripts/train.py`` runs),
  with the manifest's step timings and a breakdown of the fit into its parts.

A stage's *stage* peak is measured from the moment its inputs are in memory (the kernel's
high-water mark is reset through ``/proc/self/clear_refs``), so it includes the inputs it
holds; ``process_peak_rss_mb`` also covers loading them. Releases are synthetic and
MovieLens shaped (:mod:`reco.synthetic`), generated once into a scratch folder, or reused.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

log = logging.getLogger(__name__)

STAGES = ("load", "features", "features_pandas", "cf", "content", "train")
#: Users and movies of the MovieLens release each size imitates.
PRESETS = {"100k": (100_000, 943, 1_682), "1m": (1_000_000, 6_040, 3_706),
           "10m": (10_000_000, 69_878, 10_677), "32m": (32_000_000, 200_948, 87_585)}
MARKER = "bench_shape.json"
MB = 1024 * 1024


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


# ---------------------------------------------------------------- memory
def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_mb() -> float:
    """Current resident set size in MB (0 where ``/proc`` is absent)."""
    return (_status_kb("VmRSS") or 0) / 1024


def reset_peak() -> bool:
    """Reset this process's peak RSS (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def peak_mb() -> float:
    """Peak RSS in MB since the process started or since the last :func:`reset_peak`."""
    hwm = _status_kb("VmHWM")
    if hwm is None:  # ru_maxrss is in kB on Linux, bytes on macOS
        scale = 1 if sys.platform == "darwin" else 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / MB
    return hwm / 1024


class Profile:
    """Seconds and peak RSS of named parts of a run, nested parts included in their parents.

    Each enter/exit reads the high-water mark since the last reset, credits it to every
    open part and resets it, so a part's peak is the largest RSS seen while it was open.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.overall = 0.0  # the largest RSS seen at any checkpoint (the resets hide it)
        self.top_level = 0.0  # seconds inside parts that no other part holds
        self._open: list[str] = []

    def _checkpoint(self) -> None:
        high = peak_mb()
        self.overall = max(self.overall, high)
        for name in self._open:
            self.peak[name] = max(self.peak.get(name, 0.0), high)
        reset_peak()

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        self._checkpoint()
        self._open.append(name)
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self.seconds[name] = self.seconds.get(name, 0.0) + elapsed
            if self._open == [name]:
                self.top_level += elapsed
            self.calls[name] = self.calls.get(name, 0) + 1
            self._checkpoint()
            self._open.remove(name)

    def wrap(self, owner: Any, attr: str, name: str | Callable[..., str]) -> None:
        """Time every call of ``owner.attr`` (a function or a method) as part ``name``."""
        original = getattr(owner, attr, None)
        if original is None:  # the training code moved on: that part is simply not shown
            log.warning("cannot time %s.%s: not found", getattr(owner, "__name__", owner), attr)
            return
        is_static = isinstance(owner.__dict__.get(attr) if isinstance(owner, type) else None,
                               (classmethod, staticmethod))

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.part(name(*args) if callable(name) else name):
                return original(*args, **kwargs)

        setattr(owner, attr, staticmethod(timed) if is_static else timed)

    def summary(self) -> dict[str, dict[str, float]]:
        return {name: {"seconds": round(sec, 3), "peak_rss_mb": round(self.peak.get(name, 0), 1),
                       "calls": self.calls[name]} for name, sec in self.seconds.items()}


def _instrument_training(profile: Profile) -> None:
    """Time the parts of :meth:`HybridRecommender.fit` (this process only; no core edits)."""
    from reco import hybrid
    from reco.context_features import RecentItems, TimePopularity

    profile.wrap(hybrid.HybridRecommender, "_stage_one", "stage one (both windows)")
    profile.wrap(hybrid.ALSRecommender, "fit", lambda model, *a: f"ALS {model.config.feedback}")
    profile.wrap(hybrid.SVDRecommender, "fit", "SVD rating model")
    profile.wrap(hybrid.ContentRecommender, "fit", "content")
    profile.wrap(hybrid.PopularityRecommender, "fit", "popularity")
    profile.wrap(hybrid, "build_feature_tables", "features")
    profile.wrap(TimePopularity, "from_ratings", "time popularity")
    profile.wrap(RecentItems, "from_ratings", "recent items")
    profile.wrap(hybrid, "per_user_split", "label window split")
    profile.wrap(hybrid, "generate_candidates", "ranker: candidates")
    profile.wrap(hybrid, "cf_score_rank", "ranker: CF rank of candidates")
    profile.wrap(hybrid, "pair_features", "ranker: feature rows")
    profile.wrap(hybrid, "build_rows", "ranker: feature rows")
    profile.wrap(hybrid, "fit_booster", "ranker: XGBoost fits")


# ---------------------------------------------------------------- one stage (child side)
def run_stage(stage: str, data_dir: Path, work: Path, fast: bool = False) -> dict[str, Any]:
    """Run one stage in this process; its seconds, RSS figures and details."""
    from reco.pipeline import load_data

    started = time.perf_counter()
    extra: dict[str, Any] = {}
    if stage in ("load", "train"):
        inputs = None
    else:
        inputs = load_data(data_dir)
        extra["load_seconds"] = round(time.perf_counter() - started, 3)
    if stage == "features_pandas":  # its inputs are pandas frames; the Polars ones go
        from reco.features_pandas import to_pandas_frames

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
        from reco.features import build_feature_tables

        extra["rows"] = build_feature_tables(inputs.ratings, inputs.movies).row_counts()
    elif stage == "features_pandas":
        from reco.features_pandas import build_feature_tables_pandas

        extra["rows"] = build_feature_tables_pandas(*pandas_inputs).row_counts()
    elif stage == "cf":
        from reco.hybrid import HybridConfig
        from reco.cf import ALSRecommender

        model = ALSRecommender(HybridConfig().cf).fit(inputs.ratings)
        extra.update(config=model.config.to_dict(), regularization=model.regularization_)
    elif stage == "content":
        from reco.content import ContentRecommender

        ContentRecommender().fit(inputs.ratings, inputs.movies, tags=inputs.tags,
                                 links=inputs.links)
    elif stage == "train":
        from reco.evaluation import fast_config
        from reco.training import train

        _instrument_training(profile)
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
    from reco.synthetic import SyntheticConfig, make_release

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
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def _spawn(stage: str, data_dir: Path, work: Path, fast: bool,
           timeout: float | None) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    out = work / f"{stage}.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "reco.bench_build", stage, str(data_dir.resolve()),
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
        # pandas / Polars within each repeat (the two ran back to back), then the median
        pairs = zip(runs.get("features", []), runs.get("features_pandas", []))
        ratios = [round(b["seconds"] / a["seconds"], 3) for a, b in pairs
                  if "error" not in a and "error" not in b and a["seconds"] > 0]
        if ratios:
            entry["pandas_over_polars_runs"] = ratios
            entry["pandas_over_polars"] = round(float(np.median(ratios)), 2)
        result["sizes"].append(entry)
    ratings = [e["n_ratings"] for e in result["sizes"]]
    result["growth_exponent"] = {
        stage: {key: growth_exponent(ratings, [e["stages"].get(stage, {}).get(f"median_{key}")
                                               for e in result["sizes"]])
                for key in ("seconds", "stage_peak_rss_mb")} for stage in stages}
    return result


# ---------------------------------------------------------------- reporting
BUILD_TITLE = "Build (issue: scale)"
GENERATED_END = "<!-- end of generated figures: notes below this line are kept on re-runs -->"
TITLES = {"load": "load (read + validate)", "features": "features, Polars (reco)",
          "features_pandas": "features, pandas (peer)", "cf": "CF: implicit ALS",
          "content": "content", "train": "whole build (train)"}


def provenance() -> dict[str, Any]:
    """Where and with what the figures were measured (code path, libraries, machine)."""
    import platform
    from importlib import metadata

    from reco.artifacts import library_versions

    libraries = library_versions()
    for name in ("implicit", "scikit-surprise", "threadpoolctl"):
        try:
            libraries[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            libraries[name] = None
    return {"reco_path": str(Path(__file__).resolve().parent), "python": platform.python_version(),
            "libraries": libraries, "cpus": os.cpu_count(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
            if hasattr(os, "sysconf") else None,
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "started": time.strftime("%Y-%m-%d %H:%M:%S")}


def update_doc_section(path: Path, title: str, body: str) -> None:
    """Replace section ``## title`` of a Markdown file by ``body`` (or append it).

    Text between :data:`GENERATED_END` and the next ``## `` heading is kept, so notes
    written by hand under the figures survive a re-run.
    """
    text = path.read_text() if path.is_file() else ""
    heading = f"## {title}\n"
    start = text.find(heading)
    new = f"{heading}\n{body.strip()}\n\n{GENERATED_END}\n"
    if start < 0:
        path.write_text(text.rstrip("\n") + "\n\n" + new)
        return
    end = text.find("\n## ", start + len(heading))
    end = len(text) if end < 0 else end + 1
    old = text[start:end]
    kept = old.split(GENERATED_END, 1)[1].lstrip("\n") if GENERATED_END in old else ""
    rest = text[end:]
    path.write_text(text[:start] + new + (kept or ("\n" if rest else "")) + rest)


def runs_cell(median: float | None, values: list[float], fmt: str = "{:.3g}") -> str:
    """``median (run, run, run)``; a dash when nothing was measured."""
    if median is None:
        return "-"
    inner = ", ".join(fmt.format(v) for v in values)
    return fmt.format(median) + (f" ({inner})" if len(values) > 1 else "")


def _target(name: str, measured: float | None, limit: float, unit: str,
            higher_is_better: bool = False) -> dict[str, Any]:
    if measured is None:
        return {"target": name, "measured": None, "status": "not measured"}
    met = measured >= limit if higher_is_better else measured <= limit
    by = abs(measured / limit - 1) * 100
    status = "met" if met else "missed"
    return {"target": name, "measured": f"{measured:.3g} {unit}", "status": status,
            "margin": f"{by:.0f}% {'better' if met else 'worse'} than {limit:g} {unit}"}


def build_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's figures, measured at the sizes that ran (``10m``, ``32m``)."""
    by_label = {e["label"]: e for e in result["sizes"]}
    big, ten = by_label.get("32m", {}).get("stages", {}), by_label.get("10m", {})
    train = big.get("train", {})
    peak = train.get("median_process_peak_rss_mb")
    return [
        _target("whole build on 32M ratings: wall <= 10 min", train.get("median_wall_seconds"),
                600, "s"),
        _target("whole build on 32M ratings: peak RSS <= 8 GiB",
                None if peak is None else peak / 1024, 8, "GiB"),
        _target("features alone on 32M ratings <= 60 s",
                big.get("features", {}).get("median_seconds"), 60, "s"),
        _target("Polars features >= 5x faster than pandas at 10M ratings",
                ten.get("pandas_over_polars"), 5, "x", higher_is_better=True),
    ]


def render_build(result: dict[str, Any], command: str, image: str | None) -> str:
    """The ``## Build`` section of docs/BENCHMARKS.md from a :func:`run_build` result."""
    sizes = result["sizes"]
    head = "| stage | " + " | ".join(f"{e['label']} ({e['n_ratings']:,} ratings)"
                                     for e in sizes) + " |"
    rule = "| --- |" + " ---: |" * len(sizes)
    lines = [f"Command: `{command}`", "",
             f"Synthetic ml-shaped csv releases (users/movies per size: "
             + ", ".join(f"{e['label']} {e['n_users']:,}/{e['n_movies']:,}" for e in sizes)
             + f"; seed {result['seed']}). Each stage runs in a fresh process, "
             f"{result['repeats']} repeat(s) (whole build: {result['train_repeats']}); "
             "cells are the median and, in brackets, each run. Seconds are the stage's own "
             "(inputs already loaded; the whole build includes its load).", ""]
    for key, what, fmt in (("seconds", "Seconds", "{:.3g}"),
                           ("stage_peak_rss_mb", "Peak RSS (MB) while the stage ran, inputs "
                            "in memory included", "{:.0f}")):
        lines += [f"**{what}**", "", head, rule]
        for stage in result["stages"]:
            cells = [runs_cell(e["stages"].get(stage, {}).get(f"median_{key}"),
                               e["stages"].get(stage, {}).get(key, []), fmt) for e in sizes]
            lines.append(f"| {TITLES.get(stage, stage)} | " + " | ".join(cells) + " |")
        lines.append("")
    ratios = [e for e in sizes if "pandas_over_polars" in e]
    if ratios:
        lines += ["**Polars vs pandas, same tables, same data** (pandas seconds / Polars "
                  "seconds within each repeat, the two processes back to back; median and "
                  "runs): " + ", ".join(
                      f"{e['label']} " + runs_cell(e["pandas_over_polars"],
                                                   e["pandas_over_polars_runs"], "{:.2f}") + "x"
                      for e in ratios), ""]
    loads = [r["load_average"] for e in sizes for v in e["stages"].values() for r in v["runs"]
             if r.get("load_average") is not None]
    if loads:
        lines += [f"**Machine load** (1-minute load average at the end of each stage run, "
                  f"2 cores shared with other jobs): {min(loads):.1f} to {max(loads):.1f}, "
                  f"median {np.median(loads):.1f}.", ""]
    growth = result.get("growth_exponent", {})
    shown = {s: g for s, g in growth.items() if g.get("seconds") is not None}
    if shown:
        lines += ["**Growth** (slope of log cost against log ratings over the sizes of 1M "
                  "ratings and more; 1 is linear): " + "; ".join(
                      f"{TITLES.get(s, s)}: time {g['seconds']}, memory {g['stage_peak_rss_mb']}"
                      for s, g in shown.items()), ""]
    largest = sizes[-1]["stages"].get("train", {}).get("runs", []) if sizes else []
    ok = [r for r in largest if "parts" in r]
    if ok:
        run = ok[0]
        lines += [f"**Whole build at {sizes[-1]['label']}, by part** (first run: "
                  f"{run['wall_seconds']:.0f} s wall, process peak "
                  f"{run['process_peak_rss_mb']:,.0f} MB; parts nest, stage one holds "
                  "ALS, content, features...; manifest steps: "
                  + ", ".join(f"{k} {v:.1f} s" for k, v in run["manifest_timings"].items())
                  + ")", "", "| part | calls | seconds | peak RSS (MB) |", "| --- | ---: | ---: | ---: |"]
        for name, part in sorted(run["parts"].items(), key=lambda kv: -kv[1]["seconds"]):
            lines.append(f"| {name} | {part['calls']} | {part['seconds']:.1f} | "
                         f"{part['peak_rss_mb']:,.0f} |")
        if "outside_parts_seconds" in run:
            lines.append(f"| outside these parts (load, the rest of fit, save) | | "
                         f"{run['outside_parts_seconds']:.1f} | |")
        lines.append("")
    lines += ["**Targets**", "", "| target | measured (median) | status |", "| --- | ---: | --- |"]
    for t in build_targets(result):
        lines.append(f"| {t['target']} | {t['measured'] or '-'} | {t['status']}"
                     + (f": {t['margin']}" if "margin" in t else "") + " |")
    if image:
        lines += ["", f"![time and peak memory per stage against ratings]({image})"]
    return "\n".join(lines)


def plot_build(result: dict[str, Any], path: Path) -> None:
    """Time and peak RSS per stage against ratings, log-log, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = result["sizes"]
    x = np.array([e["n_ratings"] for e in sizes], dtype=float)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    for ax, key, label in ((axes[0], "seconds", "seconds (median)"),
                           (axes[1], "stage_peak_rss_mb", "peak RSS, MB (median)")):
        for stage in result["stages"]:
            y = np.array([e["stages"].get(stage, {}).get(f"median_{key}") or np.nan
                          for e in sizes], dtype=float)
            if np.isfinite(y).any():  # a stage that failed everywhere has no line
                ax.plot(x, y, marker="o", label=TITLES.get(stage, stage))
        if len(x) > 1:  # slope 1 through the whole build's largest point: linear growth
            last = sizes[-1]["stages"].get("train", {}).get(f"median_{key}")
            if last:
                ax.plot(x, last * x / x[-1], "k:", lw=1,
                        label="linear in ratings (through the largest whole build)")
        ax.set(xlabel="ratings", ylabel=label)
        if ax.lines:
            ax.set(xscale="log", yscale="log")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("reco build cost against data size (fresh process per stage, 2 cores)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(_stage_main(sys.argv[1:]))
