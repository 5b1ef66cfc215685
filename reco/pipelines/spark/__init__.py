"""The training pipeline on Apache Spark (``scripts/train.py --engine spark``, issue 18).

The same two stages as :mod:`reco.pipelines.train`, with the heavy work as Spark jobs:
reading the ratings, the label-window cut (:mod:`.windows`), the feature tables as Spark
SQL expressions (:mod:`.features`), implicit and explicit ALS with MLlib, popularity and
the time context (:mod:`.stage_one`), candidates and ranking rows per block of users
(:mod:`.rows`), and the two XGBoost models with ``xgboost.spark`` (:mod:`.boosters`).
The result is built into reco's own objects on the driver and published through
:func:`reco.artifacts.model_dir.save_model` (:mod:`.train`), so the version is the one
format the API serves, with ``engine: spark`` in its manifest.

PySpark is an optional extra (``pip install -e ".[spark]"``) and needs Java 17; it is
imported only inside this package, and only when a function runs (``import reco`` never
needs it). :func:`missing_requirement` says in one line what is missing.
"""

from __future__ import annotations

import importlib.util
import os
import shutil


def missing_requirement() -> str | None:
    """None when PySpark and a Java runtime are there, else one line saying which is not."""
    if importlib.util.find_spec("pyspark") is None:
        return ('PySpark is not installed: pip install -e ".[spark]" (PySpark 4.x; it also '
                "needs Java 17, e.g. Debian's openjdk-17-jre-headless)")
    java_home = os.environ.get("JAVA_HOME")
    if java_home and os.path.isfile(os.path.join(java_home, "bin", "java")):
        return None
    if shutil.which("java") is None:
        return ("no Java runtime for Spark: install Java 17 (Debian: apt-get install "
                "openjdk-17-jre-headless) or set JAVA_HOME")
    return None
