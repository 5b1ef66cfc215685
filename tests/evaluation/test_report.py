"""reco.evaluation.report: charts need the eval extra, and say so up front."""


def test_a_missing_matplotlib_is_said_before_the_work_not_after(monkeypatch, caplog):
    import logging
    import sys

    from reco.evaluation.report import charts_available

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    with caplog.at_level(logging.WARNING):
        assert charts_available() is False
    assert "pip install -e '.[eval]'" in caplog.text
