"""reco.evaluation.report: charts need the eval extra, and say so up front."""


def test_a_missing_matplotlib_is_said_before_the_work_not_after(monkeypatch, caplog):
    import logging
    import sys

    from reco.evaluation.report import charts_available

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    with caplog.at_level(logging.WARNING):
        assert charts_available() is False
    assert "pip install -e '.[eval]'" in caplog.text


def test_the_report_states_the_ratio_and_each_tuned_peers_choice_and_grid():
    from reco.evaluation.report import ratio_line, tuning_table

    line = ratio_line({"best_tuned_peer": "SLIM", "best_tuned_peer_ndcg": 0.1362,
                       "reco_full_ndcg": 0.1582, "ratio": 0.1582 / 0.1362})
    assert "reco full / best tuned peer = 1.16" in line and "SLIM, 0.1362" in line
    assert "not measured" in ratio_line(None)
    table = tuning_table({"EASE (tuned)": {
        "params": {"lam": 300.0}, "score": 0.143, "grid": [{"lam": [100.0, 300.0]}],
        "on_edge": ["lam"], "n_points": 2, "seconds": 12.0}}, {"implicit": "not installed"})
    assert "| EASE (tuned) | lam 300 | 0.1430 | lam {100, 300} | 2 | lam | 12 |" in table
    assert "| implicit | skipped: not installed |" in table
