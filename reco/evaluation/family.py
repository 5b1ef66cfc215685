"""Evaluate the family flag against the age-rating gold; the only module reading ``rating``.

Protocol (one seeded split of all titles into train / dev / test):

1. LF votes on every title (no rating read); the label models fit on train + dev votes.
2. Model selection on **dev gold** (a use of gold, kept off the test part): which weak
   labels (majority vote or Dawid-Skene EM) and whether augmentation stays, each judged by
   the ROC-AUC on dev of a classifier trained on the train part's weak labels.
3. The chosen classifier is trained on train + dev weak labels and measured once on the
   test gold: ROC-AUC, precision / recall / F1 of the family class, slices, titles no LF
   covers, the other choices (both ways), and the genre-LFs-removed ablation.
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
from sklearn.metrics import precision_recall_fscore_support, roc_auc_score

from reco.config import ConfigBase, check_int, check_range
from reco.data.netflix import (
    AGE_RATING,
    DESCRIPTION,
    LISTED_IN,
    NF_TITLE,
    SEASONS,
    TYPE,
    read_netflix_titles,
)
from reco.pipelines.text_models import train_family_flag
from reco.progress import Progress
from reco.text.family import FamilyClassifier, FamilyConfig
from reco.text.label_model import (
    LABEL_SOURCES,
    DawidSkeneLabelModel,
    LabelModelConfig,
    majority_vote,
    weak_labels,
)
from reco.text.labeling_functions import (
    ABSTAIN,
    GENRE,
    HORROR_GENRES,
    KIDS_GENRES,
    KIDS_WORDS,
    WHIMSY_WORDS,
    apply_lfs,
    default_lfs,
    lf_summary,
    words_pattern,
)

log = logging.getLogger(__name__)

FAMILY_RATINGS = ("G", "PG", "TV-Y", "TV-Y7", "TV-Y7-FV", "TV-G")
NOT_FAMILY_RATINGS = ("R", "NC-17", "TV-MA")
TARGET_AUC, STRETCH_AUC = 0.93, 0.95


@dataclass(frozen=True)
class FamilyEvalConfig(ConfigBase):
    """The split (``seed``, dev and test shares), the augmentation tried (kept only when
    it raises the dev ROC-AUC by at least ``min_gain``: a tie goes to the simpler
    model) and the threshold of precision / recall / F1."""

    seed: int = 0
    dev_share: float = 0.25
    test_share: float = 0.25
    augment_copies: int = 1
    min_gain: float = 0.002
    threshold: float = 0.5

    def __post_init__(self) -> None:
        name = type(self).__name__
        check_int(name, "seed", self.seed, 0)
        check_range(name, "dev_share", self.dev_share, 0.05, 0.45)
        check_range(name, "test_share", self.test_share, 0.05, 0.45)
        check_int(name, "augment_copies", self.augment_copies, 1, 10)
        check_range(name, "min_gain", self.min_gain, 0.0, 0.1)
        check_range(name, "threshold", self.threshold, 0.01, 0.99)


def gold_labels(titles: pl.DataFrame) -> np.ndarray:
    """1 family, 0 not family, -1 for the middle ratings (PG-13, TV-14, TV-PG, NR, UR, null)."""
    rating = titles[AGE_RATING]
    family = rating.is_in(FAMILY_RATINGS).fill_null(False).to_numpy()
    adult = rating.is_in(NOT_FAMILY_RATINGS).fill_null(False).to_numpy()
    return np.where(family, 1, np.where(adult, 0, ABSTAIN)).astype(np.int8)


def split_parts(n: int, seed: int, dev_share: float = 0.25,
                test_share: float = 0.25) -> np.ndarray:
    """A seeded assignment of ``n`` rows to "train", "dev" and "test"."""
    u = np.random.default_rng(seed).random(n)
    return np.where(u < test_share, "test", np.where(u < test_share + dev_share, "dev", "train"))


def binary_metrics(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict[str, Any]:
    """ROC-AUC (None with one class), precision / recall / F1 of the family class."""
    y, p = np.asarray(y), np.asarray(p)
    out: dict[str, Any] = {"n": len(y), "n_family": int(y.sum())}
    out["roc_auc"] = float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None
    if len(y):
        prec, rec, f1, _ = precision_recall_fscore_support(
            y, p >= threshold, average="binary", zero_division=0)
        out.update(precision=float(prec), recall=float(rec), f1=float(f1),
                   accuracy=float(np.mean((p >= threshold) == y)), mean_proba=float(p.mean()))
    return out


def slice_masks(titles: pl.DataFrame) -> dict[str, np.ndarray]:
    """Boolean masks of the reported slices."""
    genres = pl.col(LISTED_IN).list.eval(pl.element().is_in(list(KIDS_GENRES))).list.any()
    scary = pl.col(LISTED_IN).list.eval(pl.element().is_in(
        [*HORROR_GENRES, "Thrillers", "TV Thrillers"])).list.any()
    text = pl.concat_str([pl.col(NF_TITLE), pl.col(DESCRIPTION)], separator=" ")
    frame = titles.select(
        genres.fill_null(False).alias("kids genres"),
        scary.fill_null(False).alias("horror / thriller"),
        ((pl.col(TYPE) == "TV Show") & (pl.col(SEASONS) >= 3)).fill_null(False)
        .alias("TV shows, 3+ seasons"),
        ((pl.col(TYPE) == "Movie") & (pl.col("duration_minutes") < 90)).fill_null(False)
        .alias("movies under 90 min"),
        text.str.contains(words_pattern(KIDS_WORDS + WHIMSY_WORDS)).fill_null(False)
        .alias("kids keywords"),
    )
    return {name: frame[name].to_numpy() for name in frame.columns}


def _fit_predict(titles: pl.DataFrame, labels: np.ndarray, rows: np.ndarray,
                 config: FamilyConfig) -> np.ndarray:
    model = FamilyClassifier(config).fit(titles.filter(pl.Series(rows)), labels[rows])
    return model.predict_proba(titles)


def _label_quality(labels: np.ndarray, gold: np.ndarray, rows: np.ndarray) -> dict[str, Any]:
    """Weak labels against gold on ``rows`` they cover (ties count as family at 0.5)."""
    mask = rows & (gold != ABSTAIN)
    covered = mask & np.isfinite(labels)
    out = binary_metrics(gold[covered], labels[covered])
    out["coverage"] = float(covered.sum() / max(mask.sum(), 1))
    out["ties"] = float(np.mean(labels[covered] == 0.5)) if covered.any() else 0.0
    return out


def evaluate_family(titles: pl.DataFrame, config: FamilyEvalConfig | None = None,
                    family_config: FamilyConfig | None = None,
                    label_config: LabelModelConfig | None = None) -> dict[str, Any]:
    """Run the protocol of the module docstring; returns a JSON-ready dict."""
    config = config or FamilyEvalConfig()
    family_config = family_config or FamilyConfig()
    label_config = label_config or LabelModelConfig()
    start = time.perf_counter()
    gold = gold_labels(titles)
    parts = split_parts(titles.height, config.seed, config.dev_share, config.test_share)
    train, dev, test = (parts == p for p in ("train", "dev", "test"))
    fit_rows = train | dev
    lfs = default_lfs()
    votes = apply_lfs(titles, lfs)
    result: dict[str, Any] = {
        "config": config.to_dict(), "family_config": family_config.to_dict(),
        "label_config": label_config.to_dict(),
        "parts": {p: {"titles": int(m.sum()), "gold": int((m & (gold >= 0)).sum()),
                      "gold_family": int((m & (gold == 1)).sum())}
                  for p, m in (("train", train), ("dev", dev), ("test", test))},
        "lf_table": lf_summary(votes, [lf.name for lf in lfs],
                               np.where(test, gold, ABSTAIN)).to_dicts(),
        "lf_coverage_any": float((votes != ABSTAIN).any(axis=1).mean()),
    }
    labels = {s: weak_labels(votes, s, label_config, fit_rows) for s in LABEL_SOURCES}
    result["label_models"] = _label_model_report(votes, fit_rows, labels, gold, dev, test,
                                                 label_config)
    # Model selection on dev gold: weak-label source, then augmentation on/off.
    dev_gold = dev & (gold != ABSTAIN)
    dev_auc = {s: binary_metrics(gold[dev_gold], _fit_predict(
        titles, labels[s], train, family_config)[dev_gold])["roc_auc"] for s in LABEL_SOURCES}
    source = max(dev_auc, key=lambda s: dev_auc[s])
    augmented = dataclasses.replace(family_config, augment_copies=config.augment_copies)
    aug_dev = binary_metrics(gold[dev_gold], _fit_predict(
        titles, labels[source], train, augmented)[dev_gold])["roc_auc"]
    use_aug = aug_dev >= dev_auc[source] + config.min_gain
    chosen = augmented if use_aug else family_config
    result["selection"] = {"dev_auc_by_source": dev_auc, "source": source,
                           "dev_auc_augmented": aug_dev, "augment": bool(use_aug)}
    # The chosen pipeline, trained on train + dev, measured once on test.
    test_gold = test & (gold != ABSTAIN)
    proba = _fit_predict(titles, labels[source], fit_rows, chosen)
    result["test"] = binary_metrics(gold[test_gold], proba[test_gold], config.threshold)
    result["slices"] = {name: binary_metrics(gold[test_gold & m], proba[test_gold & m],
                                             config.threshold)
                        for name, m in slice_masks(titles).items()}
    uncovered = test_gold & (votes == ABSTAIN).all(axis=1)
    result["uncovered"] = binary_metrics(gold[uncovered], proba[uncovered], config.threshold)
    result["by_rating"] = _by_rating(titles, proba, test)
    other = family_config if use_aug else augmented
    result["augmentation"] = {
        "chosen": bool(use_aug),
        "test_without": result["test"] if not use_aug else binary_metrics(
            gold[test_gold], _fit_predict(titles, labels[source], fit_rows, other)[test_gold]),
        "test_with": result["test"] if use_aug else binary_metrics(
            gold[test_gold], _fit_predict(titles, labels[source], fit_rows, other)[test_gold]),
    }
    other_source = next(s for s in LABEL_SOURCES if s != source)
    result["test_other_source"] = {other_source: binary_metrics(gold[test_gold], _fit_predict(
        titles, labels[other_source], fit_rows, chosen)[test_gold])}
    keep = np.array([lf.group != GENRE for lf in lfs])
    no_genre = weak_labels(votes[:, keep], source, label_config, fit_rows)
    p_ng = _fit_predict(titles, no_genre, fit_rows, chosen)
    result["no_genre_lfs"] = {
        "lfs": [lf.name for lf in lfs if lf.group != GENRE],
        "coverage": float(np.isfinite(no_genre).mean()),
        "test": binary_metrics(gold[test_gold], p_ng[test_gold], config.threshold),
        "weak_labels_test": _label_quality(no_genre, gold, test)}
    result["seconds"] = round(time.perf_counter() - start, 1)
    log.info("family eval: test ROC-AUC %.4f (%s labels, augmentation %s) in %.1f s",
             result["test"]["roc_auc"], source, use_aug, result["seconds"])
    return result


def _label_model_report(votes: np.ndarray, fit_rows: np.ndarray,
                        labels: dict[str, np.ndarray], gold: np.ndarray, dev: np.ndarray,
                        test: np.ndarray, label_config: LabelModelConfig) -> dict[str, Any]:
    """Weak-label quality on dev and test gold, the EM's fit, and the EM variants that
    collapse on these LFs (abstains ignored)."""
    em = DawidSkeneLabelModel(label_config).fit(votes[fit_rows])
    variants = {}
    settings: dict[str, dict[str, Any]] = {
        "ignore_full": {"abstain": "ignore"},
        "ignore_symmetric": {"abstain": "ignore", "confusion": "symmetric"}}
    for name, kwargs in settings.items():
        cfg = dataclasses.replace(label_config, on_collapse="fallback", **kwargs)
        variants[name] = DawidSkeneLabelModel(cfg).fit(votes[fit_rows]).collapsed_
    return {
        "quality": {s: {"dev": _label_quality(p, gold, dev), "test": _label_quality(p, gold, test)}
                    for s, p in labels.items()},
        "em": {"n_iter": em.n_iter_, "converged": em.converged_, "collapsed": em.collapsed_,
               "class_prior_family": float(em.class_prior_[1]),
               "lf_accuracy": [float(a) for a in em.lf_accuracy_]},
        "em_variants_collapse": variants,
        "mv_ties_share": float(np.mean(majority_vote(votes)[fit_rows] == 0.5)),
    }


def _by_rating(titles: pl.DataFrame, proba: np.ndarray, rows: np.ndarray) -> list[dict]:
    """Mean ``P(family)`` per age rating on ``rows`` (the middle ratings included)."""
    frame = pl.DataFrame({"rating": titles[AGE_RATING].fill_null("(none)"), "p": proba})
    return (frame.filter(pl.Series(rows)).group_by("rating")
            .agg(n=pl.len(), mean_proba=pl.col("p").mean(),
                 share_flagged=(pl.col("p") >= 0.5).mean())
            .sort("mean_proba", descending=True).to_dicts())


def run_family_flag(netflix: str | Path, out_dir: str | Path,
                    report_dir: str | Path | None = None, seed: int = 0) -> dict[str, Any]:
    """Train the flag on every title of ``netflix`` and save it into ``out_dir``.

    With ``report_dir``, first run :func:`evaluate_family` (split ``seed``) and write its
    report; the saved model then uses the weak-label source and augmentation chosen on
    dev. Without it: majority vote and no augmentation (what the evaluation chose on
    seeds 0-2, see docs). Returns the training summary stored in ``family.json``.
    """
    titles = read_netflix_titles(netflix)
    source, config = "majority", FamilyConfig(random_state=seed)
    if report_dir is not None:
        result = evaluate_family(titles, FamilyEvalConfig(seed=seed), config)
        write_report(result, report_dir)
        source = result["selection"]["source"]
        if result["selection"]["augment"]:
            config = dataclasses.replace(config, augment_copies=result["config"]["augment_copies"])
    return train_family_flag(netflix, out_dir, source, config, titles=titles)


#: The figures compared across seeds: a name and the keys down to its metrics.
SEED_FIGURES = {"test": ("test",), "uncovered": ("uncovered",),
                "no genre LFs": ("no_genre_lfs", "test")}


def evaluate_family_seeds(netflix: str | Path, out_dir: str | Path,
                          seeds: Sequence[int] = (0, 1, 2),
                          config: FamilyEvalConfig | None = None) -> dict[str, Any]:
    """:func:`evaluate_family` once per seed (each report in ``out_dir/seed-N``), and the
    test ROC-AUC of :data:`SEED_FIGURES` across seeds in ``family_seeds.{json,md}``.

    ``config``: the protocol settings but the seed, which each run replaces."""
    config = config or FamilyEvalConfig()
    titles = read_netflix_titles(netflix)
    out_dir = Path(out_dir)
    runs = []
    progress = Progress("family evaluation", len(seeds), "seeds", every=0.0)
    for seed in seeds:
        result = evaluate_family(titles, dataclasses.replace(config, seed=seed))
        progress.advance()
        write_report(result, out_dir / f"seed-{seed}")
        runs.append(result)
    summary = {}
    for name, keys in SEED_FIGURES.items():
        values = []
        for node in runs:
            for key in keys:
                node = node[key]
            values.append(node["roc_auc"])
        known = [v for v in values if v is not None]  # None: one class only in that split
        summary[name] = {"roc_auc": values,
                         "mean": float(np.mean(known)) if known else None,
                         "std": float(np.std(known)) if known else None}
    report = {"seeds": list(seeds), "summary": summary, "target": TARGET_AUC,
              "stretch": STRETCH_AUC}
    (out_dir / "family_seeds.json").write_text(json.dumps(report, indent=1) + "\n")
    (out_dir / "family_seeds.md").write_text(_seeds_markdown(report))
    log.info("family: test ROC-AUC mean %s over seeds %s; wrote %s",
             _f(summary["test"]["mean"], 4), list(seeds), out_dir)
    return report


def _seeds_markdown(report: dict[str, Any]) -> str:
    seeds, summary = report["seeds"], report["summary"]
    mean = summary["test"]["mean"]
    if mean is None:
        verdict = "not measurable (one class in every test gold)"
    elif mean >= TARGET_AUC:
        verdict = f"met (stretch {STRETCH_AUC} {'met' if mean >= STRETCH_AUC else 'missed'})"
    else:
        verdict = f"missed by {TARGET_AUC - mean:.4f}"
    lines = ["| ROC-AUC against the rating gold | " + " | ".join(
        f"seed {s}" for s in seeds) + " | mean +- std |",
        "| --- |" + " ---: |" * (len(seeds) + 1)]
    lines += [f"| {name} | " + " | ".join(_f(v, 4) for v in row["roc_auc"])
              + f" | {_f(row['mean'], 4)} +- {_f(row['std'], 4)} |"
              for name, row in summary.items()]
    lines += ["", f"Target ROC-AUC >= {TARGET_AUC} on the test gold: {verdict}.", ""]
    return "\n".join(lines)


def write_report(result: dict[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``family_eval.json`` and ``family_eval.md`` into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "family_eval.json", out_dir / "family_eval.md"
    json_path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(markdown_report(result), encoding="utf-8")
    log.info("wrote %s and %s", json_path, md_path)
    return json_path, md_path


def _f(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |",
             "| " + " | ".join(["---"] + ["---:"] * (len(header) - 1)) + " |"]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows] + [""]


def _metric_row(name: str, m: dict[str, Any]) -> list[Any]:
    return [name, m["n"], m["n_family"], _f(m["roc_auc"], 4), _f(m.get("precision")),
            _f(m.get("recall")), _f(m.get("f1"))]


def markdown_report(r: dict[str, Any]) -> str:
    """The evaluation as Markdown tables (what :func:`write_report` writes)."""
    metric_header = ["rows", "n", "family", "ROC-AUC", "precision", "recall", "F1"]
    parts = r["parts"]
    lines = [f"Split seed {r['config']['seed']}: "
             + ", ".join(f"{p} {v['titles']} titles ({v['gold']} gold, {v['gold_family']} family)"
                         for p, v in parts.items())
             + f". Any LF votes on {r['lf_coverage_any']:.1%} of all titles.", ""]
    em_acc = r["label_models"]["em"]["lf_accuracy"]
    lines += [("LFs (coverage, overlaps, conflicts over all titles; accuracy on the test gold "
              "rows each covers; EM: the accuracy the label model infers):"), ""]
    lines += _table(["LF", "votes", "coverage", "overlaps", "conflicts", "test gold rows",
                     "emp. accuracy", "EM accuracy"],
                    [[t["lf"], t["polarity"], _f(t["coverage"]), _f(t["overlaps"]),
                      _f(t["conflicts"]), t["gold_covered"], _f(t["emp_accuracy"]), _f(a)]
                     for t, a in zip(r["lf_table"], em_acc)])
    q, sel = r["label_models"]["quality"], r["selection"]
    lines += [("Weak labels against gold (rows some LF covers; MV ties are 0.5), and the dev "
              "ROC-AUC of a classifier trained on the train part's weak labels:"), ""]
    lines += _table(["weak labels", "dev ROC-AUC", "dev F1", "test ROC-AUC", "test F1",
                     "classifier dev ROC-AUC"],
                    [[s, _f(q[s]["dev"]["roc_auc"], 4), _f(q[s]["dev"]["f1"]),
                      _f(q[s]["test"]["roc_auc"], 4), _f(q[s]["test"]["f1"]),
                      _f(sel["dev_auc_by_source"][s], 4)] for s in q])
    em = r["label_models"]["em"]
    lines += [f"Chosen: **{sel['source']}**. EM: {em['n_iter']} iterations, converged "
              f"{em['converged']}, P(family) {em['class_prior_family']:.3f}, collapse check: "
              f"{em['collapsed'] or 'passed'}. Variants with abstains ignored: "
              + "; ".join(f"{k}: {v or 'passed'}"
                          for k, v in r["label_models"]["em_variants_collapse"].items()) + ".",
              ""]
    aug = r["augmentation"]
    lines += [("Classifier on the test gold (threshold "
              f"{r['config']['threshold']}; augmentation {'on' if aug['chosen'] else 'off'}, "
              f"dev ROC-AUC {_f(sel['dev_auc_by_source'][sel['source']], 4)} without, "
              f"{_f(sel['dev_auc_augmented'], 4)} with):"), ""]
    other = next(iter(r["test_other_source"]))
    rows = [_metric_row("test, chosen", r["test"]),
            _metric_row("test, augmentation off", aug["test_without"]),
            _metric_row("test, augmentation on", aug["test_with"]),
            _metric_row(f"test, {other} weak labels", r["test_other_source"][other]),
            _metric_row("test, genre LFs removed", r["no_genre_lfs"]["test"]),
            _metric_row("test, titles no LF covers", r["uncovered"])]
    rows += [_metric_row(f"slice: {k}", m) for k, m in r["slices"].items()]
    lines += _table(metric_header, rows)
    auc = r["test"]["roc_auc"]
    verdict = (f"target {TARGET_AUC} met by {auc - TARGET_AUC:+.4f}" if auc >= TARGET_AUC
               else f"target {TARGET_AUC} missed by {TARGET_AUC - auc:.4f}")
    stretch = (f"stretch {STRETCH_AUC} met" if auc >= STRETCH_AUC
               else f"stretch {STRETCH_AUC} missed by {STRETCH_AUC - auc:.4f}")
    lines += [f"Test ROC-AUC {auc:.4f}: {verdict}; {stretch}.", "",
              "Mean P(family) per age rating on the test part (middle ratings are not gold):", ""]
    lines += _table(["rating", "n", "mean P(family)", "share >= 0.5"],
                    [[b["rating"], b["n"], _f(b["mean_proba"]), _f(b["share_flagged"])]
                     for b in r["by_rating"]])
    return "\n".join(lines)
