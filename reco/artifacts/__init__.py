"""Artifacts: the artifact directory's one format. :mod:`.manifest` holds the format version,
the manifest and the Parquet tables (one writer, one reader); :mod:`.model_dir` writes and
reads a trained model's directory (``save_model`` / ``load_model``).

It may import the core modules, ``reco.data.dataset``, :mod:`reco.features`,
:mod:`reco.models` and :mod:`reco.ranking`; never serving, pipelines or evaluation. Nothing
is imported here eagerly: building features needs the manifest but not XGBoost.
"""
