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
    # --default-malloc: leaves this test process's allocator as it is
    rows = bench.main(["--quick", "--repeat", "1", "--out", str(tmp_path), "--default-malloc"])
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["meta"]["malloc"] == "glibc default (--default-malloc)"
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
    bench.main(["--quick", "--repeat", "1", "--out", str(tmp_path), "--default-malloc",
                "--suites", "accuracy,cross_entropy"])
    first = json.loads((tmp_path / "results.json").read_text())
    rows = bench.main(["--quick", "--repeat", "1", "--out", str(tmp_path), "--default-malloc",
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


FAULTS = """
import importlib.util, resource, sys
import numpy as np
if sys.argv[1] == "steady":
    spec = importlib.util.spec_from_file_location("bench_run", sys.argv[2])
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    print(bench.steady_allocator())
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for i in range(6):
    if i == 1:
        start = faults()
    a = np.empty(8 << 20)  # 64 MB, past glibc's largest mmap threshold
    a[:] = 1.0
    del a
print((faults() - start) / 5)
"""


@pytest.mark.skipif(__import__("platform").libc_ver()[0] != "glibc", reason="glibc only")
def test_the_steady_allocator_reuses_freed_memory():
    """What the benchmark's allocator setting is for: a 64 MB array made
    and freed again and again is mapped afresh each time with glibc's
    defaults (a page fault per 4 KB page, or per 2 MB where NumPy's
    transparent huge pages apply: at least 32, and the zeroing of 64 MB),
    and only once with it."""
    import subprocess
    import sys

    def faults_per_array(mode):
        out = subprocess.run([sys.executable, "-c", FAULTS, mode,
                              str(ROOT / "benchmarks" / "run.py")],
                             capture_output=True, text=True, check=True).stdout.split("\n")
        return out[:-2], float(out[-2])

    said, default = faults_per_array("default")
    assert not said and default >= 32
    said, steady = faults_per_array("steady")
    assert "mallopt" in said[0] and steady < 8
