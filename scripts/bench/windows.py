"""The earlier label windows: what each count adds to reco full's accuracy and costs in fit
time (issue 19), on ml-latest-small, the generality suite's cuts of it and, optionally,
its synthetic releases.

Each (release, setting) fits reco full on the evaluation protocol's train part (the
per-user split, tags cut at each user's split point, as ``scripts/evaluate.py``'s ``reco
full``) with ``HybridConfig(earlier_windows=N)`` and scores NDCG@10 and the like AUC on
the test part. The releases are written to a temporary directory and removed.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any


def run_windows(data_dir: Path | None, counts: list[int], synthetic: list[str],
                base: Any = None) -> dict[str, Any]:
    """NDCG@10, like AUC and fit seconds of reco full for every release and count
    (``data_dir``: a csv release to use with its cuts; None: the synthetic ones only)."""
    from reco.data.movielens import load_movielens
    from reco.evaluation.generality import (
        SYNTHETIC_RELEASES,
        derived_releases,
        synthetic_releases,
    )
    from reco.ranking.hybrid import HybridConfig
    from scripts.bench.refit import score_fit

    known = {shape.name: shape for shape in SYNTHETIC_RELEASES}  # names checked by the CLI
    rows = []
    with tempfile.TemporaryDirectory(prefix="reco-windows-") as work:
        releases: list[tuple[str, Path]] = []
        if data_dir is not None:
            releases.append((data_dir.name, data_dir))
            releases += [(r.name, r.path) for r in derived_releases(data_dir, Path(work))]
        releases += [(r.name, r.path) for r in synthetic_releases(
            Path(work), [known[name] for name in synthetic])]
        for name, path in releases:
            data = load_movielens(path)
            for count in counts:
                config = replace(base or HybridConfig(), earlier_windows=count)
                rows.append({"release": name, "earlier_windows": count,
                             **score_fit(data, config)})
    return {"data": None if data_dir is None else str(data_dir), "rows": rows}
