"""Generality checks: the whole comparison on releases of different shapes.

Only one real release ships beside the repository (ml-latest-small), so the suite derives
more from it and from the synthetic generator, writes each into a work directory (never
the repository) and runs :func:`~reco.evaluation.protocol.run_evaluation` on every one:

* synthetic releases of different sizes, sparsity, popularity skew, taste strength, noise
  and seeds (:data:`SYNTHETIC_RELEASES`); the large one spans two years, so the strict
  global-time split ranks over 1,000 users on it and is reported. On three of them users
  choose which movies to rate by popularity alone (taste only sets the rating), so little
  beyond popularity predicts a user's next movies; on the fourth, as on real releases,
  choice follows taste (``selection_taste``: popularity x exp(b x standardised taste)),
  which collaborative filtering can learn;
* ml-latest-small cut at dates: the ratings (and tags) before the 50th and the 75th
  percentile timestamp;
* ml-latest-small restricted to a seeded random half of its users.

On a synthetic release the generator's latent parameters are known, so each split also
gets the *generator oracle* (:mod:`reco.evaluation.oracle`): its NDCG is an estimate of
the best any model can reach there, and "oracle / best tuned peer" is the highest
"reco full / best tuned peer" that release allows.

Each release's report goes to ``out/<release>/`` and a summary table (release, shape,
best tuned peer, reco full, ratio, oracle, like AUC) to ``out/generality.md`` and ``.json``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from reco.columns import TIMESTAMP, USER_ID
from reco.data.dataset import MovieLensData
from reco.data.split import Split, global_time_split, per_user_split
from reco.data.synthetic import GroundTruth, SyntheticConfig, generate_with_truth, write_release

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyntheticRelease:
    """A named synthetic release: the generator's settings and what makes it differ."""

    name: str
    config: SyntheticConfig
    shape: str


#: Four synthetic shapes, ~100k to 1M ratings (densities 4%, 1.7%, 1.7%, 1.7% with
#: different users-per-movie ratios; popularity exponent 1.0 / 0.8 / 1.2 / 1.0; 8 / 8 / 16 /
#: 8 taste factors; choice of movies by popularity alone but on the last, where it follows
#: taste: at selection_taste 1.0, 28% of a user's ratings fall in the tenth of the movies
#: released to them most to their taste, against 10% when choice ignores taste).
SYNTHETIC_RELEASES: tuple[SyntheticRelease, ...] = (
    SyntheticRelease("synthetic-100k", SyntheticConfig(
        n_users=1_000, n_movies=2_500, n_ratings=100_000, seed=1),
        "generator defaults, 1996-2023, dense (4%)"),
    SyntheticRelease("synthetic-400k", SyntheticConfig(
        n_users=6_000, n_movies=4_000, n_ratings=400_000, seed=2, activity_sigma=0.8,
        taste_std=1.0, popularity_exponent=0.8, first_rating_year=2018),
        "flatter popularity (Zipf 0.8), stronger tastes, even activity, 2018-2023"),
    SyntheticRelease("synthetic-1m", SyntheticConfig(
        n_users=12_000, n_movies=5_000, n_ratings=1_000_000, seed=3, n_factors=16,
        noise=0.8, popularity_exponent=1.2, first_rating_year=2021),
        "16 taste factors, noisier, steeper popularity (Zipf 1.2), 2021-2023"),
    SyntheticRelease("synthetic-taste-400k", SyntheticConfig(
        n_users=6_000, n_movies=4_000, n_ratings=400_000, seed=4, selection_taste=1.0),
        "choice follows taste (selection_taste=1.0): users rate what they expect to like, "
        "generator defaults otherwise, 1996-2023"),
)

#: Tiny shapes for the smoke test of the harness (seconds, not minutes).
TINY_SYNTHETIC_RELEASES: tuple[SyntheticRelease, ...] = (
    SyntheticRelease("synthetic-tiny-a", SyntheticConfig(
        n_users=60, n_movies=120, n_ratings=2_400, seed=1), "tiny, seed 1"),
    SyntheticRelease("synthetic-tiny-b", SyntheticConfig(
        n_users=90, n_movies=80, n_ratings=3_000, seed=2, popularity_exponent=1.5,
        tag_rate=0.05), "tiny, steeper popularity, seed 2"),
)

DATE_CUTS = (0.5, 0.75)


@dataclass(frozen=True)
class Release:
    """A release on disk for the suite: its name, directory and how it was made; the
    generator's latent parameters for a synthetic one (the oracle's), None otherwise."""

    name: str
    path: Path
    made: str
    truth: GroundTruth | None = None


def _before(data: MovieLensData, quantile: float) -> MovieLensData:
    """The release as it stood at the ``quantile`` timestamp: ratings and tags before it."""
    cut = int(data.ratings.select(pl.col(TIMESTAMP).quantile(quantile, "lower")).item())
    tags = None if data.tags is None else data.tags.filter(pl.col(TIMESTAMP) < cut)
    return dataclasses.replace(data, ratings=data.ratings.filter(pl.col(TIMESTAMP) < cut),
                               tags=tags)


def _half_users(data: MovieLensData, seed: int) -> MovieLensData:
    """The ratings and tags of a seeded random half of the users."""
    users = np.sort(data.ratings[USER_ID].unique().to_numpy())
    keep = np.random.default_rng(seed).choice(users, size=users.size // 2, replace=False)
    chosen = pl.Series(USER_ID, np.sort(keep)).implode()
    tags = None if data.tags is None else data.tags.filter(pl.col(USER_ID).is_in(chosen))
    return dataclasses.replace(data, ratings=data.ratings.filter(pl.col(USER_ID).is_in(chosen)),
                               tags=tags)


def derived_releases(source: Path, work: Path, seed: int = 0) -> list[Release]:
    """ml-latest-small (or any csv release at ``source``) cut at dates and halved in users,
    written as csv releases under ``work``."""
    from reco.data.movielens import load_movielens

    data = load_movielens(source)
    base = source.name
    made = [(f"{base}-before-p{int(q * 100)}", _before(data, q),
             f"{base}, ratings and tags before the {int(q * 100)}th percentile timestamp")
            for q in DATE_CUTS]
    made.append((f"{base}-half-users-seed{seed}", _half_users(data, seed),
                 f"{base}, a random half of the users (numpy default_rng({seed}))"))
    releases = []
    for name, derived, how in made:
        write_release(derived, work / name, "csv")
        releases.append(Release(name, work / name, how))
    return releases


def synthetic_releases(work: Path, shapes: Sequence[SyntheticRelease] = SYNTHETIC_RELEASES
                       ) -> list[Release]:
    """Generate every shape into ``work``, keeping each one's latent parameters."""
    releases = []
    for shape in shapes:
        c = shape.config
        data, truth = generate_with_truth(c)  # the frames make_release would write
        write_release(data, work / shape.name, c.layout)
        releases.append(Release(shape.name, work / shape.name,
                                f"synthetic: {c.n_users:,} users, {c.n_movies:,} movies, "
                                f"{c.n_ratings:,} ratings, seed {c.seed}; {shape.shape}",
                                truth))
    return releases


def oracle_report(data: MovieLensData, truth: GroundTruth, report: dict[str, Any],
                  k: int = 10) -> dict[str, Any]:
    """The generator oracle's top-N rows on the splits ``report`` measured (the per-user
    split; the global time split when it was reported), by split kind, with the ratio of
    its NDCG@k to the best tuned peer's.

    The splits are rebuilt from ``data`` by the protocol's own functions and checked
    against the report's summaries, so the oracle is scored on exactly the split every
    method was.
    """
    from reco.evaluation.oracle import ORACLE, OracleConfig, oracle_method
    from reco.evaluation.protocol import Method, evaluate_methods

    config = OracleConfig()
    method = Method(ORACLE, "oracle", oracle_method(truth, config))
    measured: list[tuple[Split, dict[str, Any], dict[str, Any] | None]] = [
        (per_user_split(data.ratings), report["split"], report.get("ratio"))]
    strict = report.get("global_time_split", {})
    if "split" in strict:
        measured.append((global_time_split(data.ratings), strict["split"], strict.get("ratio")))
    out: dict[str, Any] = {"name": ORACLE, "config": config.to_dict()}
    for split, summary, ratio in measured:
        if split.summary() != summary:
            raise ValueError(f"the oracle's {split.kind} split {split.summary()} is not the "
                             f"evaluation's {summary}")
        started = time.perf_counter()
        rows, _ = evaluate_methods(data, split, [method], k)
        row = {**rows[0], "seconds": round(time.perf_counter() - started, 1)}
        best = (ratio or {}).get("best_tuned_peer_ndcg")
        row["oracle_over_best_tuned_peer"] = (row[f"ndcg@{k}"] / best if best else None)
        out[split.kind] = row
        log.info("generator oracle, %s split: NDCG@%d %.4f (%.1f s)", split.kind, k,
                 row[f"ndcg@{k}"], row["seconds"])
    return out


def summary_rows(name: str, report: dict[str, Any], seconds: float) -> list[dict[str, Any]]:
    """The summary's rows for one release: the per-user split, and the global time split
    when it was measured."""
    data = report["data"]
    like = report.get("reco_like_model") or {}
    base = {"release": name, "ratings": data["ratings"], "users": data["users"],
            "movies": data["rated_movies"], "seconds": round(seconds, 1)}
    rows = []
    oracle = report.get("oracle") or {}
    for split, kind, ratio, ranked in (
            ("per-user", "per_user", report.get("ratio"), report["split"]["ranked_users"]),
            ("global time", "global_time", report["global_time_split"].get("ratio"),
             report["global_time_split"].get("split", {}).get("ranked_users"))):
        if ranked is None:
            continue
        ratio = ratio or {}
        bound = oracle.get(kind) or {}  # blank for a release without a generator
        rows.append({**base, "split": split, "ranked_users": ranked,
                     "best_tuned_peer": ratio.get("best_tuned_peer"),
                     "best_tuned_peer_ndcg": ratio.get("best_tuned_peer_ndcg"),
                     "reco_full_ndcg": ratio.get("reco_full_ndcg"), "ratio": ratio.get("ratio"),
                     "oracle_ndcg": bound.get("ndcg@10"),
                     "oracle_ratio": bound.get("oracle_over_best_tuned_peer"),
                     "like_auc": like.get("auc") if split == "per-user" else None})
    return rows


def _cell(value: Any, digits: int = 4) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def summary_table(rows: list[dict[str, Any]]) -> str:
    """The suite's summary as Markdown."""
    lines = ["| release | split | ratings | users | movies | ranked users | best tuned peer | "
             "its NDCG@10 | reco full NDCG@10 | ratio | oracle NDCG@10 | "
             "oracle / best tuned peer | like AUC | run s |",
             "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | "
             "---: | ---: |"]
    for r in rows:
        lines.append(
            f"| {r['release']} | {r['split']} | {_cell(r['ratings'])} | {_cell(r['users'])} | "
            f"{_cell(r['movies'])} | {_cell(r['ranked_users'])} | {_cell(r['best_tuned_peer'])} | "
            f"{_cell(r['best_tuned_peer_ndcg'])} | {_cell(r['reco_full_ndcg'])} | "
            f"{_cell(r['ratio'], 2)} | {_cell(r.get('oracle_ndcg'))} | "
            f"{_cell(r.get('oracle_ratio'), 2)} | {_cell(r['like_auc'], 3)} | "
            f"{_cell(r['seconds'], 0)} |")
    return "\n".join(lines)


def release_table(report: dict[str, Any], k: int = 10) -> str:
    """One release's compact table: the tuned peers (with their chosen values) and reco's
    lines, NDCG / Recall / HitRate at ``k``; the global split's NDCG beside when measured."""
    strict = {r["method"]: r for r in report["global_time_split"].get("topn", [])}
    tuning = report.get("tuning", {})
    lines = [f"| method | chosen on the inner split | NDCG@{k} | Recall@{k} | HitRate@{k} | "
             f"global-time NDCG@{k} |", "| --- | --- | ---: | ---: | ---: | ---: |"]
    for row in report["topn"]:
        if (row["kind"] == "peer" and not row["method"].startswith("most popular")) \
                or "rating model" in row["method"]:
            continue  # reference peers and the rating models: in the release's own report
        chosen = tuning.get(row["method"], {}).get("params", {})
        values = ", ".join(f"{n} {v:g}" if isinstance(v, float) else f"{n} {v}"
                           for n, v in chosen.items())
        other = strict.get(row["method"], {}).get(f"ndcg@{k}")
        lines.append(f"| {row['method']} | {values} | "
                     f"{_cell(row[f'ndcg@{k}'])} | {_cell(row[f'recall@{k}'])} | "
                     f"{_cell(row[f'hit_rate@{k}'])} | {_cell(other)} |")
    oracle = report.get("oracle") or {}
    if "per_user" in oracle:  # last, apart: a ceiling estimate, not a method
        row, other = oracle["per_user"], (oracle.get("global_time") or {}).get(f"ndcg@{k}")
        lines.append(f"| {oracle['name']} | {oracle['config']['mode']}, knows the "
                     f"generator's parameters | {_cell(row[f'ndcg@{k}'])} | "
                     f"{_cell(row[f'recall@{k}'])} | {_cell(row[f'hit_rate@{k}'])} | "
                     f"{_cell(other)} |")
    return "\n".join(lines)


def run_suite(out: Path, work: Path, *, source: Path | None = None,
              shapes: Sequence[SyntheticRelease] = SYNTHETIC_RELEASES,
              grid_size: str = "small", fast: bool = False, only: Sequence[str] = (),
              seed: int = 0, command: str = "") -> dict[str, Any]:
    """Build the releases into ``work``, evaluate each (reports into ``out/<release>``)
    and write ``out/generality.md`` and ``out/generality.json``; returns the summary.

    ``source``: the real release the derived ones come from (None: synthetic only).
    ``only``: release names to run (all when empty). ``fast``: reco's smoke configuration
    (:func:`~reco.evaluation.protocol.fast_config`), for tests.
    """
    from reco.evaluation.protocol import fast_config, run_evaluation
    from reco.evaluation.report import write_report
    from reco.pipelines.features import load_data

    out.mkdir(parents=True, exist_ok=True)
    releases = []
    if source is not None:  # the smaller derived releases first: a cut-short run has them
        releases += [r for r in derived_releases(source, work, seed)
                     if not only or r.name in only]
    releases += synthetic_releases(work, [s for s in shapes if not only or s.name in only])
    rows: list[dict[str, Any]] = []
    sections: list[str] = []
    extra: dict[str, Any] = {"config": fast_config()} if fast else {}
    summary: dict[str, Any] = {}
    for release in releases:
        log.info("generality: %s (%s)", release.name, release.made)
        started = time.perf_counter()
        data = load_data(release.path)
        report = run_evaluation(data, grid_size=grid_size, classifiers=False, **extra)
        seconds = time.perf_counter() - started
        if release.truth is not None:  # after the timing: the oracle is not the release's run
            report["oracle"] = oracle_report(data, release.truth, report)
        report["release"] = {"name": release.name, "made": release.made,
                             "seconds": round(seconds, 1)}
        line = f"{command} (release {release.name})" if command else release.name
        write_report(report, out / release.name, line)
        rows += summary_rows(release.name, report, seconds)
        sections += [f"## {release.name}", "", f"{release.made}. {seconds:.0f} s; full "
                     f"report: `{release.name}/evaluation.md`.", "", release_table(report)]
        log.info("generality: %s done in %.0fs", release.name, seconds)
        # the summary is rewritten after every release, so a run cut short keeps its part
        summary = _write_summary(out, grid_size, rows, releases, sections, command)
    return summary


def _write_summary(out: Path, grid_size: str, rows: list[dict[str, Any]],
                   releases: list[Release], sections: list[str], command: str
                   ) -> dict[str, Any]:
    summary = {"grid_size": grid_size, "rows": rows,
               "releases": [{"name": r.name, "made": r.made} for r in releases]}
    (out / "generality.json").write_text(json.dumps(summary, indent=2, default=float) + "\n")
    (out / "generality.md").write_text("\n".join(
        ["# Generality suite", "", f"Command: `{command}`" if command else "", "",
         f"Tuned peers' grids: {grid_size}. Like AUC: reco's like model on the per-user "
         "split's test rows. Oracle: the generator oracle (`reco.evaluation.oracle`), which "
         "ranks by the synthetic generator's own probabilities, on the same split: an "
         "estimate of the best NDCG@10 any model can reach (synthetic releases only).", "",
         summary_table(rows), "", *sections]) + "\n")
    return summary
