"""The feedback store as the API uses it: opened lazily in each worker, sampled recording.

:class:`FeedbackHook` is what ``api.py`` keeps in ``app.extensions``: the store named by a
URL (:func:`reco.data.feedback.open_store`; nothing connects before the first request, which
runs in a gunicorn worker after the fork), the sampler of served lists, and the answers
that mix the model with the store (a user's ratings by source, recommendations folded in
from stored ratings, the online figures).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from reco.data.feedback import (
    FeedbackUnavailableError,
    SamplingConfig,
    ServedSampler,
    SqlStore,
    StoredRating,
    online_stats,
    open_store,
)
from reco.serving.service import Filters, RecoService

log = logging.getLogger(__name__)

#: ``FEEDBACK`` / ``RECO_FEEDBACK_URL`` value that turns the store off (routes answer 503).
DISABLED = "none"


class FeedbackHook:
    """The store and the sampler of one worker (``url`` None or "none": no store)."""

    def __init__(self, url: str | Path | None, sampling: SamplingConfig | None = None) -> None:
        self.store: SqlStore | None = (None if url is None or str(url) == DISABLED
                                       else open_store(url))
        self.sampler = ServedSampler(sampling or SamplingConfig.from_env())

    def require(self) -> SqlStore:
        if self.store is None:
            raise FeedbackUnavailableError("no feedback store is configured on this server "
                                           "(scripts/serve.py --feedback URL)")
        return self.store

    # ------------------------------------------------------------ answers
    def recommend(self, service: RecoService, user_id: int, k: int, exclude_seen: bool,
                  filters: Filters, explain: bool = False) -> dict[str, Any]:
        """``GET /recommend/<id>``: folded in with the user's stored ratings when there
        are any, else the model's answer; the list is recorded (sampled)."""
        stored: list[StoredRating] | None = None
        if self.store is not None:
            try:
                stored = self.store.ratings(user_id)
            except FeedbackUnavailableError:
                # recommendations go on from the model alone, and the answer says so
                stored = None
        if stored:
            answer = service.recommend_stored(user_id, [(r.movie_id, r.rating) for r in stored],
                                              k, exclude_seen, filters, explain)
        else:
            answer = service.recommend(user_id, k, exclude_seen, filters, explain=explain)
            answer["stored_ratings"] = 0 if stored is not None else None
        if stored is None and self.store is not None:
            answer["feedback_unavailable"] = True
        self.record(user_id, service.version, [item["movie_id"] for item in answer["items"]])
        return answer

    def stored_pairs(self, user_id: int) -> list[tuple[int, float]]:
        """The user's stored ratings as (movie, rating), oldest first; none when there is
        no store or it cannot be read (the model's answer is still given)."""
        if self.store is None:
            return []
        try:
            return [(r.movie_id, r.rating) for r in self.store.ratings(user_id)]
        except FeedbackUnavailableError:
            return []

    def record(self, user_id: int, version: str | None, movie_ids: list[int]) -> None:
        """Record a served list when the sampler keeps it; a failure is logged, never
        raised (a list not recorded must not fail the request that served it)."""
        if self.store is None or not movie_ids or not self.sampler.keep():
            return
        try:
            self.store.record_served(user_id, version or "unversioned", movie_ids)
        except FeedbackUnavailableError:
            log.warning("served list of user %d not recorded (store unavailable)", user_id)

    def ratings(self, service: RecoService, user_id: int) -> dict[str, Any]:
        """``GET /users/<id>/ratings``: one entry per movie, the stored rating where there
        is one (it replaces the training one), else the training rating (no timestamp:
        the artifacts keep none per rating)."""
        stored = self.require().ratings(user_id)
        newer = {r.movie_id for r in stored}
        movies, values = service.training_ratings(user_id)
        out: list[dict[str, Any]] = [
            {"movie_id": m, "rating": r, "timestamp": None, "source": "training"}
            for m, r in zip(movies.tolist(), values.tolist()) if m not in newer]
        out += [{"movie_id": r.movie_id, "rating": r.rating, "timestamp": r.timestamp,
                 "source": "stored"} for r in stored]
        return {"user_id": user_id, "ratings": out}

    def stats(self, service: RecoService, window: int, k: int) -> dict[str, Any]:
        """``GET /stats``: :func:`reco.data.feedback.stats.online_stats` over the last
        ``window`` seconds."""
        store = self.require()
        now = time.time()
        served = store.served_since(now - window)
        first = min((s.served_at for s in served), default=now)
        ratings = store.ratings_received_since(first)
        return {"window_seconds": window, "k": k, "like_threshold": service.like_threshold,
                "catalogue_size": service.catalogue_size, "generated_at": round(now, 3),
                "versions": online_stats(served, ratings, like_threshold=service.like_threshold,
                                         k=k, catalogue_size=service.catalogue_size)}
