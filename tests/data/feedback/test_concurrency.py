"""8 writers x 150 ratings through the API with 2 gunicorn workers, on both backends, and a
``kill -9`` of a worker mid-write: every rating stored once, no committed one lost, no id
handed out twice (the run itself is :func:`scripts.bench.feedback.concurrent_writes`, which
the benchmark also reports, at 8 x 500)."""

from __future__ import annotations

import numpy as np
import pytest

from scripts.bench.feedback import catalog_movies, concurrent_writes, serving


@pytest.mark.slow  # two gunicorn workers, 1,200 requests and a worker restart: ~7 s each
def test_concurrent_writers_and_a_killed_worker_lose_nothing(trained, store_url):
    movies = catalog_movies(trained)
    with serving(trained, store_url) as server:
        result = concurrent_writes(server, store_url, movies, writers=8, per_writer=150,
                                   kills=1)
    assert result["errors"] == []
    assert result["kills"] == 1
    assert result["ratings_sent"] == 1200 and result["answered_201"] == 1200
    assert result["lost"] == 0 and result["missing"] == 0 and result["extra"] == 0
    assert result["stored_rows"] == 1200 and result["duplicate_rows"] == 0
    assert result["duplicate_user_ids"] == 0
    assert np.unique(movies).size == movies.size
