"""EDA-style text augmentation: random swap and random deletion of words.

Synonym replacement (the third EDA operation) needs a thesaurus; none is installed
(no NLTK / WordNet here) and nothing may be downloaded, so it is left out.

The operations work word by word, so they loop in Python over the texts; they run on
the minority class only (a few thousand short descriptions), which takes milliseconds.
"""

from __future__ import annotations

import numpy as np


def _augment_one(words: list[str], rng: np.random.Generator, p_swap: float,
                 p_delete: float) -> str:
    if len(words) > 1 and p_delete > 0:
        keep = rng.random(len(words)) >= p_delete
        if not keep.any():  # never delete every word
            keep[rng.integers(len(words))] = True
        words = [w for w, k in zip(words, keep) if k]
    n_swaps = round(p_swap * len(words))
    for _ in range(n_swaps if len(words) > 1 else 0):
        i, j = rng.choice(len(words), size=2, replace=False)
        words[i], words[j] = words[j], words[i]
    return " ".join(words)


def augment_texts(texts: list[str], n_copies: int = 1, p_swap: float = 0.1,
                  p_delete: float = 0.1, random_state: int | None = 0) -> list[str]:
    """Noisy copies of ``texts`` by random deletion then random swaps of words.

    Parameters
    ----------
    texts
        The texts to copy.
    n_copies
        Copies per text; the result holds ``n_copies * len(texts)`` strings, copy ``k``
        of every text before copy ``k + 1`` (so ``result[k * len(texts) + i]`` is a copy
        of ``texts[i]``).
    p_swap
        Share of the words swapped with another random word (``round(p_swap * n)``
        swaps).
    p_delete
        Probability that each word is deleted (at least one word is kept).
    random_state
        Seed of the generator; the same seed gives the same copies.

    Returns
    -------
    list of str
    """
    if n_copies < 0:
        raise ValueError(f"n_copies must be >= 0, got {n_copies!r}")
    for name, value in (("p_swap", p_swap), ("p_delete", p_delete)):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    rng = np.random.default_rng(random_state)
    return [_augment_one(text.split(), rng, p_swap, p_delete)
            for _ in range(n_copies) for text in texts]
