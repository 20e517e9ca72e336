"""The performance benchmarks' `--smoke` modes: the whole machinery runs at toy size (no timing asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STAGES = (
    "raw_apify_website_content",
    "raw_tavily_search",
    "documents",
    "chunks",
    "chunk_vectors",
    "chunk_lexical_index",
)


def run_script(script: str, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), "--smoke", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_pipeline_throughput_smoke_reports_every_ratio_and_stage(tmp_path: Path) -> None:
    # --all: the re-run launches every job again, so its metadata shows that nothing was redone.
    out = run_script("pipeline_throughput.py", "--all", "--json", str(tmp_path / "summary.json"))
    for name in ("first_run_over_bare", "embed_stage_over_bare", "rerun_over_first_run", *STAGES, "peak RSS"):
        assert name in out
    result = json.loads((tmp_path / "summary.json").read_text())
    summary, (pipeline,) = result["summary"], result["pipelines"]
    assert summary["chunks"] > 0 and summary["documents"] > 0
    assert all(v > 0 for values in summary["ratios"].values() for v in values)
    assert result["bares"][0]["chunks"] == summary["chunks"]  # the bare model embeds exactly the pipeline's chunks
    rerun = pipeline["rerun"]["metadata"]
    assert rerun["chunk_vectors"]["chunks_embedded"] == 0 and rerun["documents"]["rows_inserted"] == 0
    assert rerun["chunk_lexical_index"]["chunks_indexed"] == 0
    assert all(pipeline["first"]["steps"][s]["peak_rss_mb"] > 0 for s in STAGES)


def test_pipeline_throughput_smoke_by_default_measures_an_idle_re_run_that_launches_nothing(tmp_path: Path) -> None:
    out = run_script("pipeline_throughput.py", "--floor", "--json", str(tmp_path / "summary.json"))
    result = json.loads((tmp_path / "summary.json").read_text())
    (pipeline,) = result["pipelines"]
    assert set(STAGES) <= set(pipeline["first"]["steps"])
    assert pipeline["rerun"]["steps"] == {} and pipeline["rerun"]["metadata"] == {}
    # --floor: the non-embedding work timed alone bounds first run / bare model from below
    assert "cannot be below" in out and result["summary"]["floor"]["floor_first_run_over_bare"] > 1


def test_raw_vs_dlt_smoke_lands_the_same_files_both_ways(tmp_path: Path) -> None:
    pytest.importorskip("dlt", reason="dlt comes with the bench extra: pip install -e '.[bench]'")
    out = run_script("raw_vs_dlt.py", "--json", str(tmp_path / "raw.json"))
    assert "dlt-parquet / ours" in out
    (result,) = json.loads((tmp_path / "raw.json").read_text())
    assert result["items"] > 0
    assert set(result["seconds"]) == {"ours", "ours re-load", "dlt-parquet", "dlt-parquet re-load"}
    assert all(v > 0 for values in result["ratios"].values() for v in values)


def test_lexical_update_smoke_builds_edits_one_document_and_queries() -> None:
    (line,) = run_script("lexical_update.py").strip().splitlines()
    result = json.loads(line)
    assert result["chunks"] == 2000 and result["build_pages"] == 1 and result["edit_chunks_indexed"] == 1
    assert result["segments"] == 2 and result["build_peak_rss_mb"] > 0 and result["query_ms_median"] > 0


def test_scoped_scale_out_smoke_runs_two_scopes_of_one_warehouse_both_ways(tmp_path: Path) -> None:
    out = run_script("scoped_scale_out.py", "--json", str(tmp_path / "reps.json"))
    assert "speed-up" in out and "ceiling" in out
    (rep,) = json.loads((tmp_path / "reps.json").read_text())
    assert rep["same_result"]  # the script fails otherwise; both passes leave the same warehouse
    for mode in ("sequential", "parallel"):
        first, second = rep[mode]["stages"]
        assert first["chunks_embedded"] > 0 and second["chunks_embedded"] > 0
