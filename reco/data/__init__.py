"""Data: MovieLens releases (layout detection, typed reads, validation) into canonical frames.

Readers for every MovieLens layout (:mod:`.movielens`), the train/test splits of
``shared/EVALUATION.md`` (:mod:`.split`), the embedded synthetic default
(:mod:`.synthetic`), downloads (:mod:`.fetch`) and the side tables (TMDB, Netflix titles).
The lowest layer above the core: it may import only the core modules (``reco.columns``,
``reco.exceptions``, ``reco.config``, ``reco.ids``, ``reco.npz``); every other part may read
from it within the limits of ``tests/test_layers.py``.
"""
