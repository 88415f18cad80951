"""The benchmark suite runs end to end (tiny shapes; nothing is timed here)."""

import importlib.util
import json
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    """``benchmarks/run.py`` as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_benchmark_runs_and_saves_results(bench, tmp_path, capsys):
    rows = bench.main(["--quick", "--repeat", "1", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["rows"] == json.loads(json.dumps(rows))
    suites = {r["suite"] for r in rows}
    assert suites == {"accuracy", "accuracy_torch_face", "softmax", "softmax_busy",
                      "torch_face", "cross_entropy", "linear_cross_entropy"}
    assert set(saved["meta"]["compiled"]) == {"numpy face", "torch face"}
    busy = [r for r in rows if r["suite"] == "softmax_busy"]
    assert busy and all(r["load"] == "one other process spinning on a core" for r in busy)
    assert (tmp_path / "results.csv").read_text().count("\n") == len(rows) + 1
    out = capsys.readouterr().out
    assert "float32 accuracy" in out and "load average" in out
    # the accuracy claims of coursepkg hold on the quick inputs too
    ours = [r for r in rows if r["suite"] == "accuracy" and r["implementation"] == "coursepkg"]
    assert max(r["log_softmax_max_entry_ulp"] for r in ours) <= 2
    face = [r for r in rows if r["suite"] == "accuracy_torch_face"]
    assert max(r["log_softmax_ulp"] for r in face) <= 2
    timed = {(r["function"], r["mode"], r["dtype"]) for r in rows if r["suite"] == "torch_face"}
    assert len(timed) == 12 and all(r["ctorch_over_torch"] > 0 for r in rows
                                    if r["suite"] == "torch_face")


def test_quartiles_of_per_round_ratios(bench):
    # rounds whose ratios are 1, 2, 3, 4, 5 (in a shuffled order)
    num, den = [3.0, 1.0, 10.0, 2.0, 8.0], [1.0, 1.0, 2.0, 1.0, 2.0]
    assert bench.quartiles(num, den) == (1.5, 4.5)  # statistics.quantiles, "exclusive"
    assert bench.quartiles([2.0], [1.0]) == (2.0, 2.0)
    row = dict(speedup_vs_scipy=1.5, speedup_vs_scipy_q=(1.25, 1.75))
    assert bench._spread(row, "speedup_vs_scipy") == "1.50x (1.25-1.75)"


def test_some_suites_keep_the_others_rows(bench, tmp_path):
    bench.main(["--quick", "--repeat", "1", "--out", str(tmp_path),
                "--suites", "accuracy,cross_entropy"])
    first = json.loads((tmp_path / "results.json").read_text())
    rows = bench.main(["--quick", "--repeat", "1", "--out", str(tmp_path),
                       "--suites", "cross_entropy"])
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["meta"]["suites"] == ["cross_entropy"]
    kept = saved["meta"]["kept_from_earlier_run"]
    assert kept["suites"] == ["accuracy", "accuracy_torch_face"]
    assert kept["meta"]["start"] == first["meta"]["start"]
    accuracy = [r for r in first["rows"] if r["suite"].startswith("accuracy")]
    assert [r for r in saved["rows"] if r["suite"].startswith("accuracy")] == accuracy
    assert [r for r in saved["rows"] if r["suite"] == "cross_entropy"] == json.loads(
        json.dumps([r for r in rows if r["suite"] == "cross_entropy"]))
    with pytest.raises(SystemExit):
        bench.main(["--quick", "--suites", "accuracy,nonsense", "--out", str(tmp_path)])
