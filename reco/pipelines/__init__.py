"""Pipelines: the offline jobs the scripts call: build features (:mod:`.features`), apply the
text models (:mod:`.text_models`), train and write the artifacts (:mod:`.train`), batch
recommendations (:mod:`.batch`).

They may import every part below them (core, data, features, models, text, ranking,
artifacts); never serving or evaluation.
"""
