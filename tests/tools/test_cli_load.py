"""`execlayer load NETWORK.json [--db URL]`."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from api.cli import app
from tools.network import dump_snapshot
from tools.store import Store

runner = CliRunner()


def test_load_then_refresh(tmp_path: Path, northeast_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    first = runner.invoke(app, ["load", str(northeast_path), "--db", url])
    assert first.exit_code == 0, first.output
    assert "Loaded network-northeast.json" in first.output
    assert "2026-11-24T09:00:00Z" in first.output
    assert "inventory" in first.output and "17" in first.output

    data = json.loads(northeast_path.read_text())
    data["as_of"] = "2026-11-24T10:00:00Z"
    data["orders"] = data["orders"][:4]
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps(data))
    second = runner.invoke(app, ["load", str(newer), "--db", url])
    assert second.exit_code == 0, second.output
    assert "Refreshed newer.json" in second.output and "(was 2026-11-24T09:00:00Z)" in second.output
    orders_row = next(line for line in second.output.splitlines() if "orders" in line)
    numbers = [cell for cell in orders_row.split() if cell.isdigit()]
    assert numbers == ["4", "0", "0", "1", "4"]  # count, added, updated, removed, unchanged

    with Store.open(url) as store:
        assert len(store.export_snapshot().orders) == 4

    same = runner.invoke(app, ["load", str(newer), "--db", url])
    assert same.exit_code == 0 and "No changes" in same.output


def test_default_store_comes_from_the_environment(
    tmp_path: Path, northeast_path: Path, monkeypatch
) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("EXECLAYER_DB_URL", url)
    result = runner.invoke(app, ["load", str(northeast_path)])
    assert result.exit_code == 0, result.output
    with Store.open(url) as store:
        assert dump_snapshot(store.export_snapshot()) == northeast_path.read_text()


def test_bad_files_exit_2_name_the_field_and_write_nothing(
    tmp_path: Path, northeast_path: Path
) -> None:
    db = tmp_path / "bad.db"
    url = f"sqlite:///{db}"
    data = json.loads(northeast_path.read_text())
    data["inventory"][1]["on_hand"] = -3
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    result = runner.invoke(app, ["load", str(bad), "--db", url])
    assert result.exit_code == 2
    assert "inventory[1].on_hand" in result.output
    assert not db.exists()  # validated before the store was even opened

    (tmp_path / "broken.json").write_text("{not json")
    broken = runner.invoke(app, ["load", str(tmp_path / "broken.json"), "--db", url])
    assert broken.exit_code == 2 and "invalid network snapshot" in broken.output

    missing = runner.invoke(app, ["load", str(tmp_path / "nope.json"), "--db", url])
    assert missing.exit_code == 2 and "no such file" in missing.output

    wrong_db = runner.invoke(app, ["load", str(northeast_path), "--db", "mysql://x@y/z"])
    assert wrong_db.exit_code == 2 and "unsupported backend" in wrong_db.output
    assert not db.exists()


def test_a_bad_refresh_keeps_the_loaded_network(tmp_path: Path, northeast_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'keep.db'}"
    assert runner.invoke(app, ["load", str(northeast_path), "--db", url]).exit_code == 0
    data = json.loads(northeast_path.read_text())
    data["orders"][0]["allocation"]["carrier_service"] = "TELEPORT"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    result = runner.invoke(app, ["load", str(bad), "--db", url])
    assert result.exit_code == 2 and "orders[0].allocation.carrier_service" in result.output
    with Store.open(url) as store:
        assert dump_snapshot(store.export_snapshot()) == northeast_path.read_text()
