"""Reporting of the build benchmark: provenance, Markdown sections, targets and the plot.

:func:`update_doc_section` rewrites one ``## `` section of ``docs/BENCHMARKS.md`` and keeps
the notes written by hand below :data:`GENERATED_END`; the serve and peers benchmarks use
it too, with :func:`runs_cell` and :func:`target_row`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

BUILD_TITLE = "Build (issue: scale)"
GENERATED_END = "<!-- end of generated figures: notes below this line are kept on re-runs -->"
TITLES = {"load": "load (read + validate)", "features": "features, Polars (reco)",
          "features_pandas": "features, pandas (peer)", "cf": "CF: implicit ALS",
          "content": "content", "train": "whole build (train)"}


def provenance() -> dict[str, Any]:
    """Where and with what the figures were measured (code path, libraries, machine)."""
    import platform
    from importlib import metadata

    from reco.artifacts.manifest import library_versions

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


def target_row(name: str, measured: float | None, limit: float, unit: str,
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
        target_row("whole build on 32M ratings: wall <= 10 min", train.get("median_wall_seconds"),
                600, "s"),
        target_row("whole build on 32M ratings: peak RSS <= 8 GiB",
                None if peak is None else peak / 1024, 8, "GiB"),
        target_row("features alone on 32M ratings <= 60 s",
                big.get("features", {}).get("median_seconds"), 60, "s"),
        target_row("Polars features >= 5x faster than pandas at 10M ratings",
                ten.get("pandas_over_polars"), 5, "x", higher_is_better=True),
    ]


def targets_table(targets: list[dict[str, Any]], measured: str = "measured") -> list[str]:
    """The **Targets** table of a section: target, what was measured, met or missed."""
    lines = ["**Targets**", "", f"| target | {measured} | status |", "| --- | ---: | --- |"]
    for t in targets:
        lines.append(f"| {t['target']} | {t['measured'] or '-'} | {t['status']}"
                     + (f": {t['margin']}" if "margin" in t else "") + " |")
    return lines


def _ratio_line(sizes: list[dict[str, Any]], key: str, title: str) -> list[str]:
    """One line of per-size ratios measured within each repeat (``key``, ``key_runs``)."""
    shown = [e for e in sizes if key in e]
    if not shown:
        return []
    return [title + "; median and runs): " + ", ".join(
        f"{e['label']} " + runs_cell(e[key], e[f"{key}_runs"], "{:.2f}") + "x"
        for e in shown), ""]


def render_build(result: dict[str, Any], command: str, image: str | None) -> str:
    """The ``## Build`` section of docs/BENCHMARKS.md from a :func:`run_build` result."""
    sizes = result["sizes"]
    head = "| stage | " + " | ".join(f"{e['label']} ({e['n_ratings']:,} ratings)"
                                     for e in sizes) + " |"
    rule = "| --- |" + " ---: |" * len(sizes)
    lines = [f"Command: `{command}`", "",
             "Synthetic ml-shaped csv releases (users/movies per size: "
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
    lines += _ratio_line(sizes, "pandas_over_polars",
                         "**Polars vs pandas, same tables, same data** (pandas seconds / Polars "
                         "seconds within each repeat, the two processes back to back")
    lines += _ratio_line(sizes, "build_over_als",
                         "**The whole build as a multiple of one implicit-ALS fit** (64 "
                         "factors, 15 iterations, on the same likes; train seconds / ALS "
                         "seconds within each repeat")
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
                  + ")", "", "| part | calls | seconds | peak RSS (MB) |",
                  "| --- | ---: | ---: | ---: |"]
        for name, part in sorted(run["parts"].items(), key=lambda kv: -kv[1]["seconds"]):
            lines.append(f"| {name} | {part['calls']} | {part['seconds']:.1f} | "
                         f"{part['peak_rss_mb']:,.0f} |")
        if "outside_parts_seconds" in run:
            lines.append(f"| outside these parts (load, the rest of fit, save) | | "
                         f"{run['outside_parts_seconds']:.1f} | |")
        lines.append("")
    lines += targets_table(build_targets(result), "measured (median)")
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
