"""Shared fixtures: tiny releases in every layout and the real data under ../shared."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

from tests import fixtures

# One BLAS thread in the test processes. On a shared 2-core machine OpenBLAS's waiting
# threads spin and fight the other processes for the cores: the hard-impute SVD loop of
# tests/data/test_synthetic.py took 14.9 s with numpy's default 2 threads and 0.3 s with
# one (load average 4.9). Tests check results, not speed; the thread tests set their own
# limits inside this one. The variable reaches the scripts the tests start (serve, bench).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
_ONE_BLAS_THREAD = threadpool_limits(limits=1, user_api="blas")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ML_LATEST_SMALL = SHARED_DATA / "ml-latest-small"
TMDB_FILE = SHARED_DATA / "tmdb-5000" / "tmdb_5000_movies.csv"
NETFLIX_FILE = SHARED_DATA / "netflix-titles" / "netflix_titles.csv"


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained artifact directory (small synthetic release, small config), built once
    for every test module that serves it (tests/serving/*)."""
    from reco.data.synthetic import SyntheticConfig, make_release
    from reco.pipelines import train as training
    from tests.ranking.test_hybrid import SMALL

    release = tmp_path_factory.mktemp("release")
    make_release(SyntheticConfig(n_users=200, n_movies=250, n_ratings=12_000, seed=11), release)
    out = tmp_path_factory.mktemp("artifacts")
    training.train(release, out, config=SMALL)
    return out


@pytest.fixture
def csv_release(tmp_path: Path) -> Path:
    return fixtures.write_release(tmp_path, "ml-latest-small")


@pytest.fixture(params=fixtures.RELEASES)
def any_release(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path]:
    return request.param, fixtures.write_release(tmp_path, request.param)


@pytest.fixture
def ml_latest_small() -> Path:
    if not (ML_LATEST_SMALL / "ratings.csv").is_file():
        pytest.skip(f"real data absent: {ML_LATEST_SMALL} (no shared data folder beside the clone)")
    return ML_LATEST_SMALL


@pytest.fixture
def tmdb_file() -> Path:
    if not TMDB_FILE.is_file():
        pytest.skip(f"real data absent: {TMDB_FILE} (no shared data folder beside the clone)")
    return TMDB_FILE


@pytest.fixture
def netflix_file() -> Path:
    if not NETFLIX_FILE.is_file():
        pytest.skip(f"real data absent: {NETFLIX_FILE} (no shared data folder beside the clone)")
    return NETFLIX_FILE
