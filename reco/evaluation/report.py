"""Render an evaluation report as Markdown, JSON and PNG charts."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TOPN_COLUMNS = (
    "ndcg@{k}", "recall@{k}", "precision@{k}", "hit_rate@{k}", "map@{k}", "coverage@{k}",
)


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def topn_table(rows: list[dict[str, Any]], k: int) -> str:
    heads = [c.format(k=k) for c in TOPN_COLUMNS]
    lines = ["| method | " + " | ".join(heads) + " | RMSE | MAE | fit s | predict s |",
             "| --- |" + " ---: |" * (len(heads) + 4)]
    for row in rows:
        cells = [_fmt(row.get(h)) for h in heads]
        cells += [_fmt(row.get("rmse")), _fmt(row.get("mae")),
                  _fmt(row.get("fit_seconds"), 2), _fmt(row.get("predict_seconds"), 2)]
        lines.append(f"| {row['method']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def classification_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| features | classifier | ROC-AUC | accuracy | F1 | fit s |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for row in rows:
        lines.append(
            f"| {row['features']} | {row['classifier']} | {_fmt(row.get('auc'))} | "
            f"{_fmt(row.get('accuracy'))} | {_fmt(row.get('f1'))} | "
            f"{_fmt(row.get('fit_seconds'), 2)} |"
        )
    return "\n".join(lines)


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def ratio_line(ratio: dict[str, Any] | None) -> str:
    """The headline: "reco full / best tuned peer = x.xx" with both NDCGs."""
    if not ratio:
        return "reco full / best tuned peer: not measured (reco full or the tuned peers left out)."
    return (f"**reco full / best tuned peer = {ratio['ratio']:.2f}** (reco full NDCG@10 "
            f"{ratio['reco_full_ndcg']:.4f}; best tuned peer: {ratio['best_tuned_peer']}, "
            f"{ratio['best_tuned_peer_ndcg']:.4f}).")


def tuning_table(tuning: dict[str, Any], skipped: dict[str, str] | None = None) -> str:
    """Per tuned peer: the chosen values, their inner NDCG, and the grid searched."""
    lines = ["| tuned peer | chosen | inner NDCG@10 | grid (stages, searched in order) | "
             "points | on the grid's edge | tuning s |",
             "| --- | --- | ---: | --- | ---: | --- | ---: |"]
    for name, result in tuning.items():
        chosen = ", ".join(f"{k} {_value(v)}" for k, v in result["params"].items())
        grid = "; then ".join(
            ", ".join(f"{k} {{{', '.join(_value(v) for v in values)}}}"
                      for k, values in stage.items())
            for stage in result["grid"])
        edge = ", ".join(result.get("on_edge", [])) or "none"
        lines.append(f"| {name} | {chosen} | {result['score']:.4f} | {grid} | "
                     f"{result['n_points']} | {edge} | {result['seconds']:.0f} |")
    for name, reason in (skipped or {}).items():
        lines.append(f"| {name} | skipped: {reason} | | | | | |")
    return "\n".join(lines)


def to_markdown(report: dict[str, Any], command: str) -> str:
    k = report["k"]
    split = report["split"]
    parts = [
        f"Protocol {report['protocol']} (`docs/EVALUATION.md`), one split, one run.",
        f"Command: `{command}`",
        "",
        f"Split: train {split['train_ratings']:,} ratings / test {split['test_ratings']:,} / "
        f"{split['ranked_users']:,} ranked users / {split['train_movies']:,} candidate movies.",
        "",
        ratio_line(report.get("ratio")),
        "",
        f"### Top-{k} ranking",
        "",
        topn_table(report["topn"], k),
    ]
    if report.get("tuning") or report.get("skipped_peers"):
        parts += ["", f"### Tuned peers: chosen on the inner split of train (grids: "
                      f"{report.get('grid_size', 'full')})", "",
                  tuning_table(report.get("tuning", {}), report.get("skipped_peers"))]
    like = report.get("reco_like_model")
    if like:
        parts += ["", "### reco's like/dislike model on the test rows", "",
                  f"ROC-AUC {_fmt(like.get('auc'))}, accuracy {_fmt(like.get('accuracy'))}, "
                  f"F1 {_fmt(like.get('f1'))}, test like-rate {_fmt(like.get('like_rate'))}."]
    if report.get("classification"):
        parts += ["", "### Like/dislike classifiers, two feature sets (trained on the label "
                      "window inside train, tested on the test rows)", "",
                  classification_table(report["classification"])]
    strict = report.get("global_time_split", {})
    parts += ["", "### Strict check: global time split", ""]
    if "skipped" in strict:
        parts.append(f"Not reported: {strict['skipped']}.")
    else:
        s = strict["split"]
        parts += [f"Train {s['train_ratings']:,} / test {s['test_ratings']:,} / "
                  f"{s['ranked_users']:,} ranked users.", "", ratio_line(strict.get("ratio")),
                  "", topn_table(strict["topn"], k)]
        if strict.get("tuning"):
            parts += ["", "Tuned on the inner split of the global split's train:", "",
                      tuning_table(strict["tuning"])]
    if report.get("windows"):
        parts += ["", "### reco's training windows", "", "```",
                  json.dumps(report["windows"], indent=2), "```"]
    return "\n".join(parts) + "\n"


def write_report(report: dict[str, Any], out_dir: str | Path, command: str) -> dict[str, Path]:
    """Write ``evaluation.json``, ``evaluation.md`` and the PNG charts into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "evaluation.json", "markdown": out / "evaluation.md"}
    paths["json"].write_text(json.dumps(report, indent=2, default=float) + "\n")
    paths["markdown"].write_text(to_markdown(report, command))
    paths.update(write_charts(report, out))
    return paths


def charts_available() -> bool:
    """Whether matplotlib (the ``eval`` extra) can draw the PNG charts. Called before an
    evaluation starts, so a missing extra is said at once, not after minutes of work."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        log.warning("matplotlib not installed: the report will be written without its PNG "
                    "charts (pip install -e '.[eval]')")
        return False
    return True


def write_charts(report: dict[str, Any], out: Path) -> dict[str, Path]:
    """Per-method bar chart and feature-importance chart (PNG); skipped without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}  # said by charts_available() before the evaluation started
    k = report["k"]
    paths: dict[str, Path] = {}
    rows = report["topn"]
    names = [r["method"] for r in rows]
    metrics = [f"ndcg@{k}", f"recall@{k}", f"hit_rate@{k}"]
    fig, axes = plt.subplots(1, len(metrics), figsize=(15, 0.45 * len(rows) + 1.8), sharey=True)
    for ax, metric in zip(axes, metrics):
        values = [r.get(metric, 0.0) for r in rows]
        colors = ["#d95f02" if r["kind"] == "reco" else
                  "#1b9e77" if r["kind"] == "tuned peer" else "#7570b3" for r in rows]
        ax.barh(names, values, color=colors)
        ax.set_title(metric)
        ax.invert_yaxis()
        for y, v in enumerate(values):
            ax.text(v, y, f" {v:.3f}", va="center", fontsize=8)
    fig.suptitle("reco (orange), tuned peers (green) and reference peers (purple), "
                 "same split, same run")
    fig.tight_layout()
    paths["methods_png"] = out / "methods.png"
    fig.savefig(paths["methods_png"], dpi=110)
    plt.close(fig)
    gains = report.get("importance", {})
    if gains:
        fig, axes = plt.subplots(1, len(gains), figsize=(13, 7))
        for ax, (name, values) in zip(list(axes), gains.items()):
            items = sorted(values.items(), key=lambda kv: kv[1])[-20:]
            total = sum(values.values()) or 1.0
            ax.barh([key for key, _ in items], [v / total for _, v in items], color="#1b9e77")
            ax.set_title(f"{name}: share of total gain")
        fig.tight_layout()
        paths["importance_png"] = out / "feature_importance.png"
        fig.savefig(paths["importance_png"], dpi=110)
        plt.close(fig)
    return paths
