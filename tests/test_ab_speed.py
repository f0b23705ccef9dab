"""The A/B speed benchmark runs both checkouts' MMTMix and records per-case medians and ratios
(no timing is asserted: speed targets are judged from its result files, not in tests)."""

import json

import pytest

from benchmarks import ab_speed
from benchmarks.results_io import REPO_ROOT


def test_a_checkout_against_itself_records_every_case(tmp_path):
    out = tmp_path / "ab.json"
    assert ab_speed.main(["--baseline", str(REPO_ROOT), "--rounds", "2", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(result["cases"]) == set(ab_speed.CASES)
    for row in result["cases"].values():
        assert row["calls"] == 2 * (25 - 5) and row["new_ms"] > 0 and row["old_ms"] > 0
        assert row["q1"] <= row["ratio"] <= row["q3"]
    assert result["machine"]["torch_threads"] == 1  # the workers'


def test_a_baseline_that_is_no_checkout_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        ab_speed.main(["--baseline", str(tmp_path)])
    assert stop.value.code == 2 and "not a checkout of mmt-augment" in capsys.readouterr().err
