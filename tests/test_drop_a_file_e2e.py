"""Works out of the box: under a real `dagster-daemon` in local mode (the repo's dagster.yaml on a temp DAGSTER_HOME,
temp SOPHIA_DATA_DIR and SOPHIA_SAMPLES_DIR), a payload file dropped into the samples folder lands through the
`sample_files` sensor and reaches the vectors through `data_plane_automation` with no click; a corrupt file dropped
beside it is quarantined while the good one flows; a changed file updates its document. Bounded in time; the test
stops the daemon it started (and its run workers with it)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.scheduler.instigation import InstigatorState, TickStatus

from sophia_pipelines.automation import DATA_PLANE_AUTOMATION
from sophia_pipelines.sensors.source_sensors import SAMPLES_SENSOR
from sophia_pipelines.streams import STREAMS

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BUDGET_SECONDS = 300.0  # a bound so the test ends (not a speed target): daemon start, sensor + automation cycles
SAMPLE = REPO / "sophia_pipelines" / "samples" / "tavily" / "ai-infrastructure-gpu-pricing.json"
TAVILY = next(s for s in STREAMS if s.system == "tavily")
VECTORS = dg.AssetKey("chunk_vectors")
DOCUMENTS = dg.AssetKey("documents")


class LocalDeployment:
    """A temp instance from the repo's dagster.yaml (1 s dequeue), the project's code location, a running daemon."""

    def __init__(self, root: Path) -> None:
        self.samples = root / "samples"
        (self.samples / "tavily").mkdir(parents=True)
        config = yaml.safe_load((REPO / "dagster.yaml").read_text())
        config["run_coordinator"] = {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {"dequeue_interval_seconds": 1},
        }
        home = root / "home"
        home.mkdir()
        (home / "dagster.yaml").write_text(yaml.safe_dump(config))
        self.instance = dg.DagsterInstance.from_config(str(home))  # storage exists before the daemon starts
        self.workspace = root / "workspace.yaml"
        module = {"module_name": "sophia_platform.definitions", "working_directory": str(REPO)}
        self.workspace.write_text(yaml.safe_dump({"load_from": [{"python_module": module}]}))
        self.env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "SOPHIA_ENV": "local",
            "SOPHIA_DATA_DIR": str(root / "data"),
            "SOPHIA_SAMPLES_DIR": str(self.samples),
            "PYTHONPATH": str(REPO),
        }
        self.log = root / "daemon.log"
        self.daemon: subprocess.Popen | None = None
        self.deadline = time.monotonic() + BUDGET_SECONDS

    def start(self) -> None:
        with self.log.open("wb") as out:
            self.daemon = subprocess.Popen(
                [str(BIN / "dagster-daemon"), "run", "-w", str(self.workspace)],
                cwd=REPO,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # stopping its process group takes the run workers along
            )

    def stop(self) -> None:
        if self.daemon is None or self.daemon.poll() is not None:
            return
        os.killpg(self.daemon.pid, signal.SIGTERM)
        try:
            self.daemon.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.daemon.pid, signal.SIGKILL)
            self.daemon.wait()

    def wait_for(self, condition: Callable[[], object], what: str) -> object:
        while time.monotonic() < self.deadline:
            if value := condition():
                return value
            time.sleep(0.5)
        runs = [(r.job_name, r.status.value) for r in self.instance.get_runs(limit=20)]
        tail = self.log.read_text(errors="replace")[-3000:]
        raise AssertionError(f"timed out waiting for {what}; runs: {runs}; daemon log tail:\n{tail}")

    def ticked(self, sensor: str) -> bool:
        return any(
            t.status != TickStatus.STARTED
            for t in self.instance.get_ticks(self.sensor_origin_id(sensor), self.sensor_selector_id(sensor), limit=5)
        )

    def sensor_state(self, sensor: str) -> InstigatorState | None:
        return next((s for s in self.instance.all_instigator_state() if s.instigator_name == sensor), None)

    def sensor_origin_id(self, sensor: str) -> str:
        state = self.sensor_state(sensor)
        return state.instigator_origin_id if state else ""

    def sensor_selector_id(self, sensor: str) -> str:
        state = self.sensor_state(sensor)
        return state.selector_id if state else ""

    def latest(self, key: dg.AssetKey) -> dg.EventLogEntry | None:
        return self.instance.get_latest_materialization_event(key)

    def metadata(self, entry: dg.EventLogEntry) -> dict[str, object]:
        materialization = entry.asset_materialization
        assert materialization is not None
        return {k: v.value for k, v in materialization.metadata.items()}

    def materialized_after(self, key: dg.AssetKey, after: float, **at_least: int) -> dg.EventLogEntry | None:
        """The latest materialization of `key` newer than `after` whose metadata counts reach `at_least`."""
        entry = self.latest(key)
        if entry is None or entry.timestamp <= after:
            return None
        values = self.metadata(entry)
        return entry if all(int(values.get(k, 0)) >= n for k, n in at_least.items()) else None

    def search(self, query: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "sophia_pipelines.search", query, "-k", "3"],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[LocalDeployment]:
    deployment = LocalDeployment(tmp_path)
    deployment.start()
    try:
        yield deployment
    finally:
        deployment.stop()
        deployment.instance.dispose()


@pytest.mark.slow
def test_a_dropped_file_becomes_searchable_a_corrupt_one_is_quarantined_a_changed_one_updates(
    deployment: LocalDeployment,
) -> None:
    d = deployment
    # both sensors run by default in local mode: nobody turns them on
    d.wait_for(lambda: d.ticked(SAMPLES_SENSOR) and d.ticked(DATA_PLANE_AUTOMATION), "the first sensor ticks")
    assert d.latest(VECTORS) is None  # an empty samples folder: nothing ran

    dropped = time.time()
    good = d.samples / "tavily" / SAMPLE.name
    shutil.copyfile(SAMPLE, good)
    (d.samples / "tavily" / "corrupt-payload.json").write_text('{"query": "truncated", "results": [')
    vectors = d.wait_for(
        lambda: d.materialized_after(VECTORS, dropped, chunks_embedded=1), "the dropped file to reach the vectors"
    )
    assert isinstance(vectors, dg.EventLogEntry)
    raw = d.metadata(d.latest(TAVILY.asset_key))  # type: ignore[arg-type]
    assert int(raw["files_quarantined"]) >= 1  # the corrupt file sits in the quarantine ...
    assert "Carbon-aware scheduling" in d.search("carbon-aware scheduling of GPU training jobs")  # ... the good flows

    changed = time.time()
    payload = json.loads(good.read_text())
    payload["results"][0]["content"] += " Edited: schedulers now also follow the price of power."
    good.write_text(json.dumps(payload))
    documents = d.wait_for(
        lambda: d.materialized_after(DOCUMENTS, changed, rows_updated=1), "the changed file to update its document"
    )
    assert isinstance(documents, dg.EventLogEntry)
    assert int(d.metadata(documents)["rows_inserted"]) == 0  # the same document, updated in place
