"""The inverted-file index of item vectors (reco.ranking.retrieval): known answers on
clustered vectors, the exact answer when every list is read, refused saved states, and
the two-stage model answering a request through it."""

from __future__ import annotations

import numpy as np
import pytest

from reco._numeric import top_k
from reco.exceptions import ConfigError
from reco.ranking.retrieval import (
    IndexedVectors,
    RetrievalConfig,
    VectorIndex,
    build_indexes,
    kmeans,
)

NONE = np.empty(0, np.int64)


def _clusters(n_per: int = 50, k: int = 6, d: int = 8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d)) * 10
    return (np.repeat(centres, n_per, axis=0) + rng.normal(size=(k * n_per, d)) * 0.1
            ).astype(np.float32)


def test_kmeans_finds_well_separated_clusters():
    vectors = _clusters()
    centroids = kmeans(vectors, 6, iterations=20, seed=1)
    # every true cluster's mean is some centroid (to the noise)
    truth = vectors.reshape(6, 50, -1).mean(axis=1)
    distance = np.linalg.norm(truth[:, None, :] - centroids[None, :, :], axis=2).min(axis=1)
    assert (distance < 0.5).all(), distance


def test_each_list_holds_one_cluster_and_order_is_a_permutation():
    vectors = _clusters()
    index = VectorIndex.build(vectors, RetrievalConfig(lists=6, iterations=20, seed=1))
    assert np.array_equal(np.sort(index.order), np.arange(300))
    sizes = np.diff(index.offsets)
    assert sorted(sizes.tolist()) == [50] * 6
    for j in range(6):
        members = index.order[index.offsets[j]:index.offsets[j + 1]]
        assert np.unique(members // 50).size == 1  # one true cluster per list


@pytest.mark.parametrize("n", [1, 7, 40, 300, 400])
def test_reading_every_list_is_the_exact_top_n(n):
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(300, 8)).astype(np.float32)
    index = IndexedVectors(VectorIndex.build(vectors, RetrievalConfig(lists=17)), vectors,
                           scan=1.0)
    for query in rng.normal(size=(5, 8)).astype(np.float32):
        exclude = rng.choice(300, 12, replace=False)
        scores = vectors @ query
        scores[exclude] = -np.inf
        expected, _ = top_k(scores[None], n)
        expected = expected[0][expected[0] >= 0]
        assert np.array_equal(index.search(query, n, exclude), expected)


def test_ties_break_on_the_lower_item_as_the_exact_scan():
    vectors = np.ones((20, 2), dtype=np.float32)
    index = IndexedVectors(VectorIndex.build(vectors, RetrievalConfig(lists=3)), vectors, 1.0)
    assert index.search(np.ones(2, np.float32), 5, NONE).tolist() == [0, 1, 2, 3, 4]


def test_a_query_reads_its_best_lists_first():
    vectors = _clusters()
    built = VectorIndex.build(vectors, RetrievalConfig(lists=6, iterations=20, seed=1))
    index = IndexedVectors(built, vectors, scan=50 / 300)  # one list's worth
    cluster = vectors[100:150].mean(axis=0)  # the third true cluster
    expected, _ = top_k((vectors @ cluster)[None], 10)
    assert ((expected[0] >= 100) & (expected[0] < 150)).all()  # the fixture's premise
    assert np.array_equal(index.search(cluster, 10, NONE), expected[0])
    # one list read, not more: an item of another cluster is never among the 50 best
    assert ((index.search(cluster, 50, NONE) // 50) == 2).all()


def test_blocked_and_excluded_items_never_come_back():
    vectors = _clusters()
    blocked = np.arange(0, 300, 3)
    index = IndexedVectors(VectorIndex.build(vectors, RetrievalConfig(lists=6)), vectors, 1.0,
                           blocked=blocked)
    exclude = np.arange(1, 300, 3)
    found = index.search(vectors[0], 300, exclude)
    assert found.size == 100 and set(found) == set(range(2, 300, 3))


def test_state_round_trip_and_refusals():
    vectors = _clusters()
    index = VectorIndex.build(vectors, RetrievalConfig(lists=6))
    state = index.state("cf")
    again = VectorIndex.from_state(state, "cf", 300, 8)
    assert np.array_equal(again.order, index.order)
    bad = {
        "centroids of another width": {**state, "cf_centroids": state["cf_centroids"][:, :4]},
        "NaN centroid": {**state, "cf_centroids": np.full((6, 8), np.nan, np.float32)},
        "a repeated item": {**state, "cf_order": np.zeros(300, np.int64)},
        "an item out of range": {**state, "cf_order": np.arange(1, 301)},
        "offsets short of the items": {**state, "cf_offsets": np.array([0, 1, 2, 3, 4, 5, 6])},
        "decreasing offsets": {**state, "cf_offsets": np.array([0, 200, 100, 300, 300, 300, 300])},
        "float order": {**state, "cf_order": index.order.astype(np.float64)},
    }
    for what, broken in bad.items():
        with pytest.raises(ValueError, match="cf index"):
            VectorIndex.from_state(broken, "cf", 300, 8)
        assert what
    with pytest.raises(ValueError, match="lacks"):
        VectorIndex.from_state({"cf_centroids": state["cf_centroids"]}, "cf", 300, 8)
    with pytest.raises(ValueError, match="permutation"):
        VectorIndex.from_state(state, "cf", 301, 8)


def test_indexes_only_for_large_enough_matrices_and_when_enabled():
    small, large = np.zeros((10, 4), np.float32), _clusters()
    built = build_indexes({"small": small, "large": large}, RetrievalConfig(min_items=100))
    assert built is not None and set(built) == {"large"}
    assert build_indexes({"small": small}, RetrievalConfig(min_items=100)) is None
    assert build_indexes({"large": large}, RetrievalConfig(enabled=False)) is None


@pytest.mark.parametrize("field, value", [("scan", 0.0), ("scan", 1.5), ("lists", -1),
                                          ("max_users", 0), ("iterations", 0)])
def test_config_refuses_bad_values(field, value):
    with pytest.raises(ConfigError, match=f"RetrievalConfig.{field}"):
        RetrievalConfig(**{field: value})


def test_default_list_count_grows_with_the_square_root():
    config = RetrievalConfig()
    assert config.n_lists(10_000) == 400 and config.n_lists(90_000) == 1200
    assert config.n_lists(3) == 3 and RetrievalConfig(lists=50).n_lists(20) == 20


# ---------------------------------------------------------------- in the two-stage model
@pytest.fixture(scope="module")
def indexed():
    """The suite's small model with an index on its (small) catalog."""
    from dataclasses import replace

    from reco.data.synthetic import SyntheticConfig, generate
    from reco.ranking.hybrid import HybridRecommender
    from tests.ranking.test_hybrid import SMALL

    data = generate(SyntheticConfig(n_users=150, n_movies=260, n_ratings=9_000, seed=8))
    config = replace(SMALL, retrieval=RetrievalConfig(min_items=1, lists=12))
    model = HybridRecommender(config).fit(data.ratings, data.movies, tags=data.tags,
                                          links=data.links)
    return model, data


def _candidates(model, users, exact, scan=None):
    from dataclasses import replace

    from reco.ranking.candidates import generate_candidates

    people = model.stage_.store.known_users(users)
    retrieval = model.config.retrieval if scan is None else replace(model.config.retrieval,
                                                                    scan=scan)
    return generate_candidates(people, model.stage_.store, model.config.candidates, retrieval,
                               exact=exact)


def test_the_fit_indexes_cf_and_content(indexed):
    model, _ = indexed
    assert set(model.stage_.retrieval) == {"cf", "content"}
    assert len(model.stage_.retrieval["cf"]) == len(model.stage_.cf.item_map_)


def test_an_index_read_whole_gives_the_exact_candidates(indexed):
    model, data = indexed
    users = data.ratings["user_id"].unique().sort().to_numpy()[:6]
    exact, searched = _candidates(model, users, True), _candidates(model, users, False, 1.0)
    assert np.array_equal(exact.rows, searched.rows)
    assert np.array_equal(exact.movie_ids, searched.movie_ids)
    for source, ranks in exact.ranks.items():
        np.testing.assert_array_equal(ranks, searched.ranks[source], err_msg=source)


def test_a_partial_read_still_gives_full_unseen_lists(indexed):
    model, data = indexed
    users = data.ratings["user_id"].unique().sort().to_numpy()[:6]
    found = _candidates(model, users, False, 0.05)
    config = model.config.candidates
    for row, user in enumerate(users):
        mine = found.rows == row
        seen = set(data.ratings.filter(data.ratings["user_id"] == user)["movie_id"].to_list())
        assert not seen & set(found.movie_ids[mine].tolist())
        cf_ranks = found.ranks["cf"][mine]
        assert int(np.isfinite(cf_ranks).sum()) == min(config.n_cf, 260 - len(seen))


def test_a_request_uses_the_index_and_a_block_does_not(indexed, monkeypatch):
    from reco.ranking import retrieval

    model, data = indexed
    calls = []
    original = retrieval.IndexedVectors.search
    monkeypatch.setattr(retrieval.IndexedVectors, "search",
                        lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    user = int(data.ratings["user_id"][0])
    model.recommend(user, k=5)
    assert calls, "one user's request did not search the index"
    calls.clear()
    many = data.ratings["user_id"].unique().to_numpy()[:model.config.retrieval.max_users + 1]
    model.recommend_batch(many, 5)
    assert not calls, "a block of users searched the index instead of one product"


def test_the_index_travels_with_the_version(indexed, tmp_path):
    from reco.artifacts.model_dir import load_model, save_model
    from reco.ranking.candidates import searchable

    model, data = indexed
    save_model(model, tmp_path, catalog=data.movies)
    loaded, _, manifest = load_model(tmp_path)
    assert "retrieval.npz" in manifest["files"]
    for name, index in model.stage_.retrieval.items():
        np.testing.assert_array_equal(loaded.stage_.retrieval[name].order, index.order)
    # the vectors in list order come mapped from the file (read-only), equal to a fresh layout
    scan = model.config.retrieval.scan
    fresh, mapped = searchable(model.stage_.store, scan), searchable(loaded.stage_.store, scan)
    for name in fresh:
        assert not mapped[name].grouped.flags.writeable
        np.testing.assert_array_equal(mapped[name].grouped, fresh[name].grouped)
    user = int(data.ratings["user_id"][3])
    assert model.recommend(user, k=10)[0].tolist() == loaded.recommend(user, k=10)[0].tolist()


def test_similar_titles_come_from_the_index_and_fall_back_to_every_title(indexed, tmp_path,
                                                                          monkeypatch):
    from dataclasses import replace

    from reco.artifacts.model_dir import save_model
    from reco.serving import service as serving
    from reco.serving.service import Filters, RecoService

    model, data = indexed
    save_model(model, tmp_path, catalog=data.movies)
    svc = RecoService.load(tmp_path)

    def answer(movie: int, k: int, filters: Filters | None = None, exact: bool = False):
        on = svc.model.config.retrieval
        if exact:
            svc.model.config = replace(svc.model.config, retrieval=replace(on, enabled=False))
        try:
            return [(i["movie_id"], i["score"]) for i in svc.similar(movie, k, filters)["items"]]
        finally:
            svc.model.config = replace(svc.model.config, retrieval=on)

    movies = data.movies["movie_id"].to_list()[:12]
    monkeypatch.setattr(serving, "SIMILAR_POOL", 10_000)  # every title in the pool
    for movie in movies:
        # the same titles in the same order; a score may differ in its last float32 bit
        # (a product over the pool's rows, not the whole matrix) and so in the 6th decimal
        pooled, exact_answer = answer(movie, 8), answer(movie, 8, exact=True)
        assert [m for m, _ in pooled] == [m for m, _ in exact_answer]
        assert [s for _, s in pooled] == pytest.approx([s for _, s in exact_answer], abs=2e-6)
    monkeypatch.setattr(serving, "SIMILAR_POOL", 5)  # 4 k = 20 titles per space
    calls = []
    near = svc.model.index_neighbours
    monkeypatch.setattr(svc.model, "index_neighbours", lambda *a: calls.append(a) or near(*a))
    for movie in movies:
        got = answer(movie, 5)
        assert len(got) == 5 and movie not in [m for m, _ in got]
        assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)
        # scores are the exact ones; an answer may only miss a title the pool did not hold
        exact = dict(answer(movie, 260, exact=True))
        assert all(abs(exact[m] - s) <= 2e-6 for m, s in got)  # 6 decimals, last bit
    assert calls and calls[0][1] == 20
    # a filter that leaves too few titles in the pool: the answer is the exact one
    few = Filters(year_min=2100)
    assert answer(movies[0], 5, few) == answer(movies[0], 5, few, exact=True) == []


def test_an_old_version_gets_its_index_without_retraining(indexed, tmp_path, capsys):
    from reco.artifacts.model_dir import load_model, save_model
    from scripts import artifacts as cli

    model, data = indexed
    saved, model.stage_.retrieval = model.stage_.retrieval, None  # as trained before it existed
    try:
        old = save_model(model, tmp_path, catalog=data.movies)
    finally:
        model.stage_.retrieval = saved
    assert cli.main(["index", str(tmp_path)]) == 0
    new_name = capsys.readouterr().out.strip()
    loaded, _, manifest = load_model(tmp_path)
    assert manifest["version"] == new_name != old.name
    assert manifest["retrieval_index_of"] == old.name and "retrieval.npz" in manifest["files"]
    for name, index in saved.items():
        np.testing.assert_array_equal(loaded.stage_.retrieval[name].order, index.order)
    user = int(data.ratings["user_id"][5])
    assert loaded.recommend(user, k=10)[0].tolist() == model.recommend(user, k=10)[0].tolist()


@pytest.mark.parametrize("damage, message", [
    (lambda s: {**s, "cf_order": np.zeros_like(s["cf_order"])}, "permutation"),
    (lambda s: {**s, "content_offsets": s["content_offsets"][::-1].copy()}, "offsets"),
    (lambda s: {**s, "cf_centroids": np.full_like(s["cf_centroids"], np.nan)}, "finite"),
    (lambda s: {**s, "cf_grouped": np.full_like(s["cf_grouped"], np.inf)}, "list order"),
    # a size the manifest does not list: caught before the index's own check
    (lambda s: {**s, "content_grouped": s["content_grouped"][:-1]}, "the manifest says"),
    (lambda s: {**{k: v for k, v in s.items() if not k.startswith("cf_")},
                **{k.replace("cf_", "xx_"): v for k, v in s.items() if k.startswith("cf_")}},
     "differ from the manifest"),  # the manifest lists each array: caught before
])
def test_a_damaged_index_is_refused_even_without_checksums(indexed, tmp_path, damage,
                                                           message):
    # serving workers load with checksums=False (their parent verified the bytes): the
    # index's own checks are what stands between a damaged file and a wrong answer
    import os

    from reco.artifacts.model_dir import load_model, save_model
    from reco.exceptions import ArtifactError
    from reco.npz import load_npz, save_npz

    model, data = indexed
    version = save_model(model, tmp_path, catalog=data.movies)
    path = version / "retrieval.npz"
    state = {k: np.array(v) for k, v in load_npz(path).items()}
    os.chmod(path, 0o644)
    path.unlink()
    save_npz(path, **damage(state))
    with pytest.raises(ArtifactError, match=f"retrieval.npz.*{message}") as exc:
        load_model(tmp_path, checksums=False)
    assert str(tmp_path) not in str(exc.value)  # no path in what may reach a response


def test_a_query_reads_on_until_enough_unblocked_items():
    # the best list holds only blocked items: the query must read past it for its n
    vectors = _clusters()
    built = VectorIndex.build(vectors, RetrievalConfig(lists=6, iterations=20, seed=1))
    blocked = np.arange(100, 150)  # the whole third cluster
    index = IndexedVectors(built, vectors, scan=50 / 300, blocked=blocked)
    found = index.search(vectors[100:150].mean(axis=0), 10, NONE)
    assert found.size == 10 and not set(found) & set(blocked.tolist())
    assert index.search(vectors[100:150].mean(axis=0), 10, NONE, blocked=False).size == 10
