"""Text: models of movie text trained on other datasets: the genre tagger (TF-IDF blocks,
multi-label logistic regression), weak supervision (labeling functions, a label model) and
the family-friendly flag, plus their MovieLens inputs.

It may import the core modules and :mod:`reco.data` (the TMDB and Netflix readers); never
models, features, ranking, serving or evaluation. The pipelines apply it before training.
"""
