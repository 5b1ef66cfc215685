"""Title search latency at ml-latest's scale (issue 15): :class:`reco.ranking.search.TitleIndex`
over a synthetic catalogue of ``--titles`` titles.

The catalogue is ml-latest-small's 9,742 titles (with their rating counts) replicated: copy
0 as stored, copy ``r`` with a made-up word put in front ("Redux Matrix, The (1999)"), so
the article, alternates and year of every copy parse as the real ones do, while the
vocabulary stays that of 9.7k titles (each word's posting list about nine times longer
than in ml-latest, which makes the per-word work heavier, not lighter). Each query is
timed alone (``time.perf_counter`` around one ``search(q, 20)``), every query of the mix
``--repeats`` times; the p50 and p99 are over all those timings. For comparison the
search reco had before issue 15 (a Python loop testing ``needle in key`` over every
title, reproduced here as it was) is timed on the same queries.
"""

from __future__ import annotations

import os
import statistics
import time
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from reco.columns import title_year
from reco.ranking.search import TitleIndex

#: The issue's cases, hard cases of this module's tests, and everyday prefixes and typos.
QUERIES = ("the matrix", "The Godfather", "the shawshank", "star wars episode iv", "amelie 2001",
           "amélie", "godfather 1972", "matrix the", "shawshenk", "l'auberge espagnole",
           "2001 a space odyssey", "se7en", "forest gump", "the", "star", "toy story 2",
           "pulp", "schindlers list", "harry potter and the", "lord of the rings")
_WORDS = ("Redux", "Nocturne", "Vesper", "Quarry", "Lantern", "Harbor", "Meridian", "Cinder",
          "Tundra", "Orchid", "Basalt", "Juniper")


def catalogue(release: Path, n_titles: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``n_titles`` stored titles, their years and rating counts (see the module docstring)."""
    movies = pl.read_csv(release / "movies.csv", schema_overrides={"title": pl.String})
    counts = pl.read_csv(release / "ratings.csv", columns=["movieId"]).group_by("movieId").len()
    movies = movies.join(counts, on="movieId", how="left").with_columns(
        pl.col("len").fill_null(0)).sort("movieId")
    base = movies["title"].to_list()
    titles = [t if r == 0 else f"{_WORDS[(r - 1) % len(_WORDS)]}{(r - 1) // len(_WORDS) or ''} {t}"
              for r in range(-(-n_titles // len(base))) for t in base][:n_titles]
    years = pl.DataFrame({"title": titles}, schema={"title": pl.String}).select(
        title_year(pl.col("title")).cast(pl.Float64)).to_series().to_numpy()
    reps = -(-n_titles // len(base))
    popularity = np.tile(movies["len"].to_numpy(), reps)[:n_titles].astype(np.float64)
    return titles, years, popularity


def _old_search(keys: list[str], n_ratings: np.ndarray, ids: np.ndarray, query: str,
                limit: int) -> list[int]:
    """The search of reco/serving/service.py before issue 15, as it was."""
    decomposed = unicodedata.normalize("NFKD", query.strip())
    needle = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    if not needle:
        return []
    hits = [(not key.startswith(needle), i) for i, key in enumerate(keys) if needle in key]
    if not hits:
        return []
    later = np.array([h[0] for h in hits])
    pos = np.array([h[1] for h in hits])
    order = np.lexsort((ids[pos], -n_ratings[pos], later))
    return [int(p) for p in pos[order][:limit]]


def _timings(search: Any, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        for query in QUERIES:
            started = time.perf_counter()
            search(query)
            out.append((time.perf_counter() - started) * 1e3)
    return out


def _summary(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    return {"p50_ms": statistics.median(ordered),
            "p99_ms": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
            "mean_ms": statistics.fmean(ordered)}


def run_search(release: Path, n_titles: int, repeats: int, old_repeats: int = 3) -> dict[str, Any]:
    """Build the index over the synthetic catalogue and time the query mix."""
    titles, years, popularity = catalogue(release, n_titles)
    started = time.perf_counter()
    index = TitleIndex.build(titles, years, popularity)
    build_s = time.perf_counter() - started
    first = {q: titles[int(p[0])] if (p := index.search(q, 1).positions).size else None
             for q in QUERIES}
    new = _timings(lambda q: index.search(q, 20), repeats)
    keys = (pl.Series(titles).str.normalize("NFKD").str.replace_all(r"\p{Mn}", "")
            .str.to_lowercase().to_list())
    ids = np.arange(len(titles))
    old = _timings(lambda q: _old_search(keys, popularity, ids, q, 20), old_repeats)
    return {"titles": len(titles), "queries": len(QUERIES), "repeats": repeats,
            "build_seconds": build_s, "index": _summary(new), "before": _summary(old),
            "before_repeats": old_repeats, "first_hit": first,
            "load_average": list(os.getloadavg())}


def render_search(result: dict[str, Any], command: str) -> str:
    """The doc section: the figures, how they were measured, and each query's first hit."""
    new, old = result["index"], result["before"]
    load = ", ".join(f"{x:.2f}" for x in result["load_average"])
    lines = [
        f"Command: `{command}`", "",
        f"Measured {result['provenance']['started']} UTC on {result['provenance']['cpus']} "
        f"cores, load average at the end {load}. A synthetic catalogue of "
        f"{result['titles']:,} titles (ml-latest-small's titles replicated, copy r with a "
        "made-up word in front, so the vocabulary is that of 9.7k titles and every posting "
        f"list about nine times longer than in ml-latest); {result['queries']} queries, each "
        f"timed alone, {result['repeats']} times each ({result['queries'] * result['repeats']:,} "
        "timings). `TitleIndex.search(q, 20)` only (the service then builds 20 movie objects).",
        "",
        "| search | p50 ms | p99 ms | mean ms |",
        "| --- | ---: | ---: | ---: |",
        f"| token index (issue 15) | {new['p50_ms']:.3f} | {new['p99_ms']:.3f} | "
        f"{new['mean_ms']:.3f} |",
        f"| before: a loop over every title ({result['before_repeats']} repeats) | "
        f"{old['p50_ms']:.2f} | {old['p99_ms']:.2f} | {old['mean_ms']:.2f} |",
        "",
        f"Index build: {result['build_seconds']:.2f} s (once, at load). Target: p50 <= 2 ms.",
        "",
        "First hit of each query on this catalogue:", "",
        "| query | first hit |", "| --- | --- |",
    ]
    lines += [f"| `{q}` | {hit} |" for q, hit in result["first_hit"].items()]
    return "\n".join(lines)
