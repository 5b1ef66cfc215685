"""Evaluate the text models on seeded 80/20 splits: JSON + Markdown + PNG.

    python scripts/evaluate_text.py tagger \\
        --netflix ../shared/data/netflix-titles/netflix_titles.csv \\
        --tmdb ../shared/data/tmdb-5000/tmdb_5000_movies.csv \\
        --movielens ../shared/data/ml-latest-small --out artifacts/text-eval --seeds 0 1 2

``tagger``: the multi-label genre tagger (thresholds tuned on the training part only, by
out-of-fold probabilities; the 20% test part is touched once, for the figures). Writes
``genre_tagger.json``, ``genre_tagger.md`` and ``genre_f1_<dataset>.png`` into ``--out``;
``--movielens DIR`` adds the MovieLens title(+tags) fallback check.

    python scripts/evaluate_text.py family \
        --netflix ../shared/data/netflix-titles/netflix_titles.csv --out artifacts/family-eval

``family``: the family-friendly flag against the age-rating gold it never trains on, one
train / dev / test split per seed (:func:`reco.evaluation.family.evaluate_family`). Writes each
seed's ``family_eval.{json,md}`` into ``--out/seed-N`` and ``family_seeds.{json,md}``: test
ROC-AUC, on titles no labeling function covers, and without the genre-label functions.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a file from a clone that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sklearn.model_selection import train_test_split  # noqa: E402

from reco.text import multilabel as mm  # noqa: E402
from reco.cli import run, setup_logging  # noqa: E402
from reco.evaluation.family import (  # noqa: E402
    STRETCH_AUC, TARGET_AUC, FamilyEvalConfig, evaluate_family, write_report,
)
from reco.text.genre_tagger import THRESHOLD_MODES, GenreTagger, TaggerConfig  # noqa: E402
from reco.text.tagger_inputs import netflix_inputs, tmdb_inputs  # noqa: E402
from reco.data.netflix import read_netflix_titles  # noqa: E402
from reco.data.tmdb import read_tmdb_movies  # noqa: E402

log = logging.getLogger("reco.evaluate_text")

#: (macro F1, micro F1) targets of issue 6; the published baseline is on Netflix only.
TARGETS = {"netflix": (0.50, 0.65), "tmdb": (0.51, 0.62)}
BASELINE = {"netflix": (0.38, 0.53)}
HEADLINE = ("f1_macro", "f1_micro", "f1_samples", "jaccard_samples", "hamming_loss",
            "exact_match", "at_least_one")


def evaluate_split(inputs, labels, seed: int, config: TaggerConfig,
                   test_size: float) -> dict:
    """Fit on the seeded training part, score the test part under both threshold modes."""
    index = np.arange(len(labels))
    train, test = train_test_split(index, test_size=test_size, random_state=seed)
    start = time.perf_counter()
    tagger = GenreTagger(TaggerConfig.from_dict({**config.to_dict(), "random_state": seed}))
    tagger.fit(labels=[labels[i] for i in train], **inputs.subset(train).kwargs())
    fit_s = time.perf_counter() - start
    proba = tagger.predict_proba(**inputs.subset(test).kwargs())
    truth = np.array([[g in labels[i] for g in tagger.labels_] for i in test], dtype=bool)
    share = tagger.label_counts_ / tagger.n_train_
    out = {"seed": seed, "n_train": len(train), "n_test": len(test), "fit_seconds": fit_s,
           "labels": list(tagger.labels_), "train_share": share.tolist(),
           "thresholds": tagger.thresholds_.tolist(),
           "global_threshold": tagger.global_threshold_, "modes": {}}
    for mode in THRESHOLD_MODES:
        pred = tagger.decide(proba, mode)
        f1, support = mm.per_label_f1(truth, pred)
        out["modes"][mode] = {
            "summary": mm.summary(truth, pred), "per_label_f1": f1.tolist(),
            "support": support.tolist(),
            "confused": mm.confused_pairs(truth, pred, tagger.labels_, top=15),
            "buckets": mm.f1_by_frequency_bucket(truth, pred, share)}
    log.info("seed %d: %s", seed, {m: round(v["summary"]["f1_macro"], 4)
                                   for m, v in out["modes"].items()})
    return out


def aggregate(runs: list[dict]) -> dict:
    """Mean, sample std, min and max over seeds of every headline and per-label figure."""
    labels = runs[0]["labels"]
    agg: dict = {"labels": labels, "seeds": [r["seed"] for r in runs], "modes": {}}
    def stat(v: list[float]) -> dict[str, float]:
        std = float(np.std(v, ddof=1)) if len(v) > 1 else 0.0
        return {"mean": float(np.mean(v)), "std": std, "min": float(np.min(v)),
                "max": float(np.max(v))}

    for mode in THRESHOLD_MODES:
        modes = [r["modes"][mode] for r in runs if r["labels"] == labels]
        pairs: dict[tuple[str, str], int] = {}
        for m in modes:
            for a, b, c in m["confused"]:
                pairs[(a, b)] = pairs.get((a, b), 0) + c
        buckets: dict[tuple[float, float], list] = {}
        for m in modes:
            for b in m["buckets"]:
                buckets.setdefault((b["low"], b["high"]), []).append(b)
        agg["modes"][mode] = {
            "summary": {k: stat([m["summary"][k] for m in modes]) for k in HEADLINE},
            "per_label": [{"label": g,
                           "support": float(np.mean([m["support"][j] for m in modes])),
                           **stat([m["per_label_f1"][j] for m in modes])}
                          for j, g in enumerate(labels)],
            "confused": [(a, b, c / len(modes)) for (a, b), c in
                         sorted(pairs.items(), key=lambda x: (-x[1], x[0]))[:10]],
            "buckets": [{"low": lo, "high": hi,
                         "n_labels": float(np.mean([b["n_labels"] for b in bs])),
                         **stat([b["f1_mean"] for b in bs])}
                        for (lo, hi), bs in sorted(buckets.items())]}
    return agg


def _pm(s: dict, digits: int = 3) -> str:
    return f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f}"


def _target_lines(name: str, agg: dict) -> list[str]:
    lines = ["| metric | target | per-genre thresholds | global threshold |",
             "| --- | ---: | ---: | ---: |"]
    for key, target in zip(("f1_macro", "f1_micro"), TARGETS[name]):
        cells = []
        for mode in THRESHOLD_MODES:
            mean = agg["modes"][mode]["summary"][key]["mean"]
            verdict = "met" if mean >= target else f"missed by {target - mean:.3f}"
            cells.append(f"{mean:.3f} ({verdict})")
        lines.append(f"| {key} | {target:.2f} | {cells[0]} | {cells[1]} |")
    if name in BASELINE:
        lines.append(f"\nPublished baseline (768-d embeddings + random forest, older release): "
                     f"macro {BASELINE[name][0]:.2f}, micro {BASELINE[name][1]:.2f}.")
    return lines


def markdown(name: str, agg: dict, runs: list[dict]) -> str:
    """The report section of one dataset."""
    per, glob = agg["modes"]["per_label"], agg["modes"]["global"]
    n_train, n_test = runs[0]["n_train"], runs[0]["n_test"]
    fit_s = np.mean([r["fit_seconds"] for r in runs])
    intro = (f"{n_train} training / {n_test} test titles per split, {len(agg['labels'])} "
             f"genres, seeds {agg['seeds']} (mean ± sample std; min-max in the JSON); fit "
             f"time {fit_s:.0f} s per split.")
    out = [f"### {name}", "", intro, "", *_target_lines(name, agg), "",
           "| metric | per-genre thresholds | global threshold |", "| --- | ---: | ---: |"]
    out += [f"| {k} | {_pm(per['summary'][k])} | {_pm(glob['summary'][k])} |" for k in HEADLINE]
    out += ["", "Per-genre F1 (test support = mean count per split):", "",
            "| genre | support | F1 per-genre thr. | F1 global thr. |",
            "| --- | ---: | ---: | ---: |"]
    rows = sorted(zip(per["per_label"], glob["per_label"]), key=lambda r: -r[0]["support"])
    out += [f"| {p['label']} | {p['support']:.0f} | {_pm(p)} | {_pm(g)} |" for p, g in rows]
    out += ["", "F1 by genre frequency (share of training titles), per-genre thresholds:", "",
            "| frequency | genres (mean per split) | mean F1 |", "| --- | ---: | ---: |"]
    out += [f"| {b['low']:.0%}-{b['high']:.0%} | {b['n_labels']:.3g} | {_pm(b)} |"
            for b in per["buckets"]]
    confused = ("Most confused pairs (A predicted, B true, A not true, B missed; mean count "
                "per split, per-genre thresholds):")
    out += ["", confused, "", "| predicted A | true B | count |", "| --- | --- | ---: |"]
    out += [f"| {a} | {b} | {c:.1f} |" for a, b, c in per["confused"]]
    return "\n".join(out) + "\n"


def plot(name: str, agg: dict, path: Path) -> None:
    """Horizontal bars of per-genre F1 (mean ± std over seeds), most frequent genre on top."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per, glob = agg["modes"]["per_label"]["per_label"], agg["modes"]["global"]["per_label"]
    order = sorted(range(len(per)), key=lambda j: per[j]["support"])
    y = np.arange(len(order))
    fig, ax = plt.subplots(figsize=(8, 0.26 * len(order) + 1.5))
    ax.barh(y, [per[j]["mean"] for j in order], xerr=[per[j]["std"] for j in order],
            color="#4c72b0", label="per-genre thresholds")
    ax.plot([glob[j]["mean"] for j in order], y, "o", color="#dd8452", ms=4,
            label="global threshold")
    ax.set_yticks(y, [f"{per[j]['label']} ({per[j]['support']:.0f})" for j in order], fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"test F1, mean ± std over seeds {agg['seeds']} (test support)")
    ax.set_title(f"Genre tagger, per-genre F1: {name}")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def movielens_check(tmdb_path: Path, ml_dir: Path, config: TaggerConfig) -> dict:
    """The MovieLens fallback path, measured where it is honest: ml-latest-small movies
    *not* in TMDB 5000 get their genres hidden and predicted from title (+ tags) by a
    tagger trained on all of TMDB 5000 with MovieLens labels."""
    import polars as pl

    from reco.text.tagger_inputs import (
        predict_movielens_genres,
        to_movielens_genres,
    )
    from reco.data.movielens import load_movielens

    tmdb = read_tmdb_movies(tmdb_path)
    inputs, labels = tmdb_inputs(tmdb)
    labels = [to_movielens_genres(row) for row in labels]
    keep = [i for i, row in enumerate(labels) if row]
    tagger = GenreTagger(config).fit(labels=[labels[i] for i in keep],
                                     **inputs.subset(keep).kwargs())
    data = load_movielens(ml_dir)
    linked = data.links.join(tmdb.select("tmdb_id"), on="tmdb_id")["movie_id"].implode()
    held = data.movies.filter(~pl.col("movie_id").is_in(linked)
                              & (pl.col("genres").list.len() > 0))
    hidden = held.with_columns(pl.lit([], dtype=pl.List(pl.String)).alias("genres"))
    truth = np.array([[g in row for g in tagger.labels_] for row in held["genres"].to_list()])
    out = {"n_movies": held.height, "n_with_tags": int(held["movie_id"].is_in(
        data.tags["movie_id"].implode()).sum()), "labels": list(tagger.labels_)}
    for name, tags in (("title", None), ("title_tags", data.tags)):
        pred = predict_movielens_genres(tagger, hidden, tmdb, data.links, tags)
        rows = pred["predicted_genres"].to_list()
        out[name] = mm.summary(truth, np.array([[g in r for g in tagger.labels_] for r in rows]))
    top2 = np.argsort(-truth.sum(0))[:2]  # constant guess: the two most frequent genres
    constant = np.zeros_like(truth)
    constant[:, top2] = True
    out["constant_top2"] = {"genres": [tagger.labels_[j] for j in top2],
                            **mm.summary(truth, constant)}
    return out


def movielens_markdown(check: dict) -> str:
    intro = (f"{check['n_movies']} ml-latest-small movies not in TMDB 5000 "
             f"({check['n_with_tags']} with tags), genres hidden, "
             f"{len(check['labels'])} genres:")
    lines = ["### MovieLens fallback (title + tags)", "", intro,
             "", "| input | F1 macro | F1 micro | F1 samples | Jaccard | exact match |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    names = {"title": "title only", "title_tags": "title + tags",
             "constant_top2": "constant " + " + ".join(check["constant_top2"]["genres"])}
    for key, name in names.items():
        s = check[key]
        cells = [s[k] for k in ("f1_macro", "f1_micro", "f1_samples", "jaccard_samples",
                                "exact_match")]
        lines.append(f"| {name} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    return "\n".join(lines) + "\n"


def run_tagger(args: argparse.Namespace) -> None:
    config = TaggerConfig.from_dict(json.loads(args.config))
    sources = {"netflix": (args.netflix, read_netflix_titles, netflix_inputs),
               "tmdb": (args.tmdb, read_tmdb_movies, tmdb_inputs)}
    args.out.mkdir(parents=True, exist_ok=True)
    report, sections = {"config": config.to_dict(), "test_size": args.test_size}, []
    for name, (path, read, build) in sources.items():
        if path is None:
            continue
        inputs, labels = build(read(path))
        keep = [i for i, row in enumerate(labels) if row]
        if len(keep) < len(labels):  # nothing to learn or score: TMDB has 28 such movies
            log.info("%s: %d title(s) without genres left out", name, len(labels) - len(keep))
        inputs, labels = inputs.subset(keep), [labels[i] for i in keep]
        runs = [evaluate_split(inputs, labels, s, config, args.test_size) for s in args.seeds]
        agg = aggregate(runs)
        report[name] = {"aggregate": agg, "runs": runs, "n_titles": len(labels)}
        sections.append(markdown(name, agg, runs))
        plot(name, agg, args.out / f"genre_f1_{name}.png")
    if args.movielens is not None:
        report["movielens"] = movielens_check(args.tmdb, args.movielens, config)
        sections.append(movielens_markdown(report["movielens"]))
    (args.out / "genre_tagger.json").write_text(json.dumps(report, indent=1) + "\n")
    (args.out / "genre_tagger.md").write_text("\n".join(sections))
    log.info("wrote %s", args.out)


FAMILY_FIGURES = {"test": ("test",), "uncovered": ("uncovered",),
                  "no genre LFs": ("no_genre_lfs", "test")}


def run_family(args: argparse.Namespace) -> None:
    titles = read_netflix_titles(args.netflix)
    runs = []
    for seed in args.seeds:
        result = evaluate_family(titles, FamilyEvalConfig(seed=seed))
        write_report(result, args.out / f"seed-{seed}")
        runs.append(result)
    summary = {}
    for name, keys in FAMILY_FIGURES.items():
        values = []
        for result in runs:
            node = result
            for key in keys:
                node = node[key]
            values.append(node["roc_auc"])
        summary[name] = {"roc_auc": values, "mean": float(np.mean(values)),
                         "std": float(np.std(values))}
    report = {"seeds": args.seeds, "summary": summary, "target": TARGET_AUC,
              "stretch": STRETCH_AUC}
    (args.out / "family_seeds.json").write_text(json.dumps(report, indent=1) + "\n")
    mean = summary["test"]["mean"]
    verdict = (f"met (stretch {STRETCH_AUC} {'met' if mean >= STRETCH_AUC else 'missed'})"
               if mean >= TARGET_AUC else f"missed by {TARGET_AUC - mean:.4f}")
    lines = ["| ROC-AUC against the rating gold | " + " | ".join(
        f"seed {s}" for s in args.seeds) + " | mean +- std |",
        "| --- |" + " ---: |" * (len(args.seeds) + 1)]
    lines += [f"| {name} | " + " | ".join(f"{v:.4f}" for v in row["roc_auc"])
              + f" | {row['mean']:.4f} +- {row['std']:.4f} |" for name, row in summary.items()]
    lines += ["", f"Target ROC-AUC >= {TARGET_AUC} on the test gold: {verdict}.", ""]
    (args.out / "family_seeds.md").write_text("\n".join(lines))
    log.info("family: test ROC-AUC mean %.4f over seeds %s; wrote %s", mean, args.seeds,
             args.out)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="model", required=True)
    tagger = sub.add_parser("tagger", help="multi-label genre tagger (Netflix, TMDB 5000)")
    tagger.add_argument("--netflix", type=Path, help="netflix_titles.csv")
    tagger.add_argument("--tmdb", type=Path, help="tmdb_5000_movies.csv (title + overview only)")
    tagger.add_argument("--out", type=Path, required=True, help="output directory")
    tagger.add_argument("--movielens", type=Path,
                        help="MovieLens release: also measure the title(+tags) fallback")
    tagger.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    tagger.add_argument("--test-size", type=float, default=0.2)
    tagger.add_argument("--config", default="{}", help="TaggerConfig overrides as JSON")
    tagger.set_defaults(action=run_tagger)
    family = sub.add_parser("family", help="family-friendly flag (Netflix, rating as gold)")
    family.add_argument("--netflix", type=Path, required=True, help="netflix_titles.csv")
    family.add_argument("--out", type=Path, required=True, help="output directory")
    family.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    family.set_defaults(action=run_family)
    args = parser.parse_args(argv)
    if args.model == "tagger" and args.netflix is None and args.tmdb is None:
        parser.error("tagger: give --netflix and/or --tmdb")
    if args.model == "tagger" and args.movielens is not None and args.tmdb is None:
        parser.error("tagger: --movielens needs --tmdb")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    return run(lambda: args.action(args))


if __name__ == "__main__":
    raise SystemExit(main())
