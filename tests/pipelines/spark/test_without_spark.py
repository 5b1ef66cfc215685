"""The Spark engine's glue that needs no Spark: requirements, config, the command line."""

from __future__ import annotations

import importlib.util

import pytest

from reco.exceptions import ConfigError
from reco.pipelines import spark as spark_pkg
from reco.pipelines.spark.session import SparkConfig, SparkUnavailableError, start_session


def test_missing_pyspark_is_one_line(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pyspark" else real(name, *a))
    problem = spark_pkg.missing_requirement()
    assert problem is not None and "pip install" in problem and "\n" not in problem
    with pytest.raises(SparkUnavailableError, match="PySpark is not installed"):
        start_session()


def test_missing_java_is_one_line(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object())
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(spark_pkg.shutil, "which", lambda name: None)
    assert "openjdk-17-jre-headless" in (spark_pkg.missing_requirement() or "")


def test_train_script_exits_2_without_spark(monkeypatch, tmp_path, caplog, csv_release):
    from scripts import train as script

    monkeypatch.setattr(spark_pkg, "missing_requirement", lambda: "PySpark is not installed")
    code = script.main(["--engine", "spark", "--data", str(csv_release),
                        "--artifacts", str(tmp_path / "store")])
    assert code == 2
    # one line on stderr (the log), no traceback
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "PySpark is not installed" in errors[0].getMessage()
    assert errors[0].exc_info is None
    assert not (tmp_path / "store" / "current").exists()


@pytest.mark.parametrize("argv", [
    ["--spark-master", "local[2]"],  # a Spark option with the local engine
    ["--engine", "spark"],  # no --data
    ["--engine", "spark", "--data", "d", "--spark-partitions", "0"],
    ["--engine", "spark", "--data", "d", "--feedback", "mysql://db/reco"],  # not a store URL
])
def test_train_script_refuses_bad_combinations(argv):
    from scripts import train as script

    with pytest.raises(SystemExit) as exc:
        script.parse_args(argv)
    assert exc.value.code == 2


def test_spark_config():
    config = SparkConfig(master="local[2]", shuffle_partitions=4, ui=False,
                         conf=(("spark.executor.memory", "4g"),))
    settings = config.settings()
    assert settings["spark.sql.shuffle.partitions"] == "4"
    assert settings["spark.ui.enabled"] == "false"
    assert settings["spark.executor.memory"] == "4g"
    assert "spark.master" not in settings  # the master is the builder's, or spark-submit's
    with pytest.raises(ConfigError):
        SparkConfig(shuffle_partitions=0)
    assert SparkConfig().master is None  # under spark-submit the master is not set here
