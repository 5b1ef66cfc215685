"""Shared fixtures: tiny releases in every layout and the real data under ../shared."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import fixtures

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ML_LATEST_SMALL = SHARED_DATA / "ml-latest-small"
TMDB_FILE = SHARED_DATA / "tmdb-5000" / "tmdb_5000_movies.csv"
NETFLIX_FILE = SHARED_DATA / "netflix-titles" / "netflix_titles.csv"


@pytest.fixture
def csv_release(tmp_path: Path) -> Path:
    return fixtures.write_release(tmp_path, "ml-latest-small")


@pytest.fixture(params=fixtures.RELEASES)
def any_release(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path]:
    return request.param, fixtures.write_release(tmp_path, request.param)


@pytest.fixture
def ml_latest_small() -> Path:
    if not (ML_LATEST_SMALL / "ratings.csv").is_file():
        pytest.skip(f"real data absent: {ML_LATEST_SMALL} (the shared data folder is not beside the clone)")
    return ML_LATEST_SMALL


@pytest.fixture
def tmdb_file() -> Path:
    if not TMDB_FILE.is_file():
        pytest.skip(f"real data absent: {TMDB_FILE} (the shared data folder is not beside the clone)")
    return TMDB_FILE


@pytest.fixture
def netflix_file() -> Path:
    if not NETFLIX_FILE.is_file():
        pytest.skip(f"real data absent: {NETFLIX_FILE} (the shared data folder is not beside the clone)")
    return NETFLIX_FILE
