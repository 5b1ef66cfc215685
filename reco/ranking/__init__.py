"""Ranking: the two-stage recommender. Stage one's models and tables (:mod:`.stage_one`) as
arrays (:mod:`.stage_arrays`), candidates per user (:mod:`.candidates`), feature rows in the
order of :mod:`.schema` (:mod:`.pair_features`), the XGBoost ranker and like model
(:mod:`.booster`), tied together by :mod:`.hybrid`.

It may import the core modules, ``reco.data.split``, :mod:`reco.features` and
:mod:`reco.models`; never artifacts (how a fitted model is stored is
:mod:`reco.artifacts.model_dir`'s business), serving, text or evaluation.
"""
