"""Content similarity: movie text (:mod:`._text`), per-field TF-IDF, truncated SVD and
cosine (:mod:`._model`)."""

from reco.models.content._model import ContentConfig, ContentRecommender
from reco.models.content._text import FIELDS, movie_texts

__all__ = ["FIELDS", "ContentConfig", "ContentRecommender", "movie_texts"]
