"""Features: user, movie and user-genre tables and the time-aware context, built with Polars.

Functions of canonical frames (:mod:`.tables`, :mod:`.temporal`), so they may import only
the core modules: not the data readers (callers hand them frames), not the models.
"""
