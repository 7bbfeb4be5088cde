"""`python -m benchmarks --quick` runs end to end, checks every gradient and writes its outputs,
so the benchmark suite cannot rot."""
import json

from benchmarks import main


def test_quick_benchmark_run(tmp_path):
    out = tmp_path / "results.json"
    code = main(["--quick", "--json", str(out), "--plot", str(tmp_path), "--no-progress"])
    assert code == 0
    results = json.loads(out.read_text())
    assert results["gradjit_mismatches"] == []
    assert len(results["workloads"]) >= 7
    for workload in results["workloads"]:
        ours = {r["contender"]: r for r in workload["results"]}
        for contender in ("gradjit", "gradjit-eager"):     # checked against the reference, then timed
            assert ours[contender]["status"] == "ok", (workload["name"], ours[contender]["message"])
            assert ours[contender]["max_rel_err"] <= 1e-6 and ours[contender]["median_s"] > 0
    assert any(tmp_path.glob("*.png"))
