"""Content similarity: settings (:mod:`._config`), movie text and its embeddings
(:mod:`._text`: per-field TF-IDF, truncated SVD) and the recommender on top (:mod:`._model`:
user profiles, cosine)."""

from reco.models.content._config import FIELDS, ContentConfig
from reco.models.content._model import ContentRecommender
from reco.models.content._text import MovieEmbeddings, embed_movies, movie_texts

__all__ = ["FIELDS", "ContentConfig", "ContentRecommender", "MovieEmbeddings", "embed_movies",
           "movie_texts"]
