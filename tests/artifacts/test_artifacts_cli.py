"""scripts/artifacts.py: what an operator runs against a store."""

from __future__ import annotations

import json
import shutil

from reco.artifacts import store
from scripts import artifacts as cli


def _store(trained, tmp_path):
    root = tmp_path / "store"
    shutil.copytree(trained, root, symlinks=True)
    return root, store.resolve(root)


def test_list_verify_and_roll_back(trained, tmp_path, capsys):
    root, first = _store(trained, tmp_path)
    older = root / "versions" / ("20000101T000000Z-" + "0" * 16)
    shutil.copytree(first, older)  # a copy under another id: its manifest hash differs
    assert cli.main(["list", str(root), "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["pointers"]["current"] == first.name
    assert [v["version"] for v in listing["versions"]] == [older.name, first.name]
    assert listing["versions"][1]["kind"] == "model" and listing["versions"][1]["bytes"] > 0
    assert cli.main(["verify", str(root), first.name]) == 0
    assert " ok " in capsys.readouterr().out
    assert cli.main(["verify", str(root)]) == 2  # the copy fails: its id is not its hash
    assert "FAILED: manifest.json: its sha256 is not the one" in capsys.readouterr().out
    assert cli.main(["use", str(root), older.name]) == 2  # never points at a bad version
    assert store.resolve(root) == first


def test_use_moves_current_and_refuses_features_only(trained, tmp_path, csv_release, capsys):
    from scripts import build_features

    root, first = _store(trained, tmp_path)
    assert build_features.main(["--data", str(csv_release), "--artifacts", str(root)]) == 0
    features = store.resolve(root, store.FEATURES)
    assert store.resolve(root) == first  # features never displace the served model
    assert cli.main(["use", str(root), features.name]) == 2
    assert cli.main(["use", str(root), "not-an-id"]) == 2
    assert cli.main(["use", str(root), first.name]) == 0
    assert capsys.readouterr().out.strip().endswith(f"current -> {first.name}")


def test_index_refuses_a_catalog_too_small_for_it(trained, tmp_path, caplog):
    root, first = _store(trained, tmp_path)
    assert cli.main(["index", str(root)]) == 2
    assert "below retrieval.min_items" in caplog.text
    assert store.resolve(root) == first  # nothing published
