"""Models: the single recommenders behind a small base class (:mod:`.base`): popularity,
matrix factorisation (:mod:`.mf`: ALS, SVD) and content similarity (:mod:`.content`), each
saved as one ``.npz`` file of its own format.

Models see rating frames and id maps only, so they may import only the core modules: not
the data readers, the features, ranking or evaluation.
"""
