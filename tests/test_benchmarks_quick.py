"""`python -m benchmarks --quick` runs end to end, checks every gradient and writes its outputs,
so the benchmark suite cannot rot. It writes them apart from a full run's, which it must never
overwrite, and its progress display, captured here (not a terminal), is one line per workload."""
import json
import re

from benchmarks import main


def test_quick_benchmark_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    full_run = tmp_path / "benchmark-results"
    full_run.mkdir()
    kept = {name: f"full run's {name}" for name in ("results.json", "results.md", "times.png")}
    for name, text in kept.items():
        (full_run / name).write_text(text)

    import os
    cache = os.environ.get("GRADJIT_CACHE_DIR")
    code = main(["--quick"])

    assert code == 0
    assert os.environ.get("GRADJIT_CACHE_DIR") == cache      # the contenders' fresh caches are undone
    for name, text in kept.items():
        assert (full_run / name).read_text() == text, f"--quick overwrote the full run's {name}"
    quick = full_run / "quick"
    results = json.loads((quick / "results.json").read_text())
    assert results["meta"]["mode"] == "quick"
    assert results["gradjit_mismatches"] == []
    assert len(results["workloads"]) >= 7
    for workload in results["workloads"]:
        ours = {r["contender"]: r for r in workload["results"]}
        for contender in ("gradjit", "gradjit-eager"):     # checked against the reference, then timed
            assert ours[contender]["status"] == "ok", (workload["name"], ours[contender]["message"])
            assert ours[contender]["max_rel_err"] <= 1e-6 and ours[contender]["median_s"] > 0
    assert any(quick.glob("*.png"))
    summary = (quick / "results.md").read_text()
    assert results["meta"]["cpu"] in summary and results["meta"]["timestamp"] in summary

    err = capsys.readouterr().err
    assert "\r" not in err                               # no redraws in a captured log
    names = [w["name"] for w in results["workloads"]]
    lines = [line for line in err.splitlines() if line.startswith("[")]
    assert len(lines) == len(names)
    for i, (line, name) in enumerate(zip(lines, names), 1):
        assert re.fullmatch(rf"\[{i}/{len(names)}\] {re.escape(name)}: \d+\.\d s", line), line
