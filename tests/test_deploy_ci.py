"""CI: `.ci/run` is the local mirror of ci.yml's `checks` job, and the workflows do what the deployment needs."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.chart import NAMESPACE, RELEASE

REPO = Path(__file__).resolve().parents[1]
CI_RUN = REPO / ".ci" / "run"
CI_WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"
INFRA_WORKFLOW = REPO / ".github" / "workflows" / "infra.yml"
SCRIPTS = (CI_RUN, *sorted((REPO / "scripts").glob("*.sh")))
SETUP = ("set ", "cd ", "export ")  # shell setup lines of .ci/run; ci.yml has them as the runner's and `env:`


def workflow(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def ci_run_commands() -> list[str]:
    lines = [line.strip() for line in CI_RUN.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line and not line.startswith("#") and not line.startswith(SETUP)]


def job_commands(job: dict[str, Any]) -> list[str]:
    return [step["run"].strip() for step in job["steps"] if "run" in step]


def test_ci_run_mirrors_the_checks_job() -> None:
    checks = workflow(CI_WORKFLOW)["jobs"]["checks"]
    assert ci_run_commands() == job_commands(checks)
    assert 'export DAGSTER_HOME="$PWD/.dagster_home"' in CI_RUN.read_text(encoding="utf-8")
    assert checks["env"]["DAGSTER_HOME"] == "${{ github.workspace }}/.dagster_home"


def test_ci_covers_lint_both_modes_tests_benchmarks_and_the_image() -> None:
    jobs = workflow(CI_WORKFLOW)["jobs"]
    commands = job_commands(jobs["checks"])
    # The checks job runs the README's test command, scripts/test.sh; its commands are the lint, both modes and tests.
    test_sh = [line.strip() for line in (REPO / "scripts" / "test.sh").read_text(encoding="utf-8").splitlines()]
    assert ".venv/bin/ruff check ." in test_sh and ".venv/bin/ruff format --check ." in test_sh
    assert {"SOPHIA_ENV=local .venv/bin/dg check defs", "SOPHIA_ENV=production .venv/bin/dg check defs"} <= set(test_sh)
    assert 'exec .venv/bin/python -m pytest "$@"' in test_sh
    assert "bash scripts/test.sh -q" in commands and "bash scripts/bench_smoke.sh" in commands
    assert commands.index("bash scripts/system_packages.sh") < commands.index("bash scripts/test.sh -q")
    (build,) = [c for c in job_commands(jobs["image"]) if c.startswith("docker build")]
    assert shlex.split(build)[shlex.split(build).index("--file") + 1] == "Dockerfile"


def test_the_image_installs_the_production_extra() -> None:
    """The image installs requirements.lock (dependencies + the production extra, pinned), and the lock has them."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    assert "-r requirements.lock" in (REPO / "Dockerfile").read_text(encoding="utf-8")
    extra = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    lock = (REPO / "requirements.lock").read_text(encoding="utf-8").splitlines()
    pinned = {canonicalize_name(line.split("==")[0]) for line in lock if "==" in line}
    missing = {canonicalize_name(Requirement(r).name) for r in extra["production"]} - pinned
    assert not missing, f"requirements.lock lacks the production extra's {sorted(missing)}"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_ci_scripts_parse(script: Path) -> None:
    checked = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr


def test_infra_preview_comments_and_up_is_verified() -> None:
    infra = workflow(INFRA_WORKFLOW)
    assert (infra["env"]["DAGSTER_RELEASE"], infra["env"]["DAGSTER_NAMESPACE"]) == (RELEASE, NAMESPACE)
    jobs = infra["jobs"]
    (comment,) = [s for s in jobs["preview"]["steps"] if "github-script" in s.get("uses", "")]
    assert "createComment" in comment["with"]["script"] and comment["if"].startswith("always()")
    assert jobs["preview"]["permissions"]["pull-requests"] == "write"
    assert any("| python -m deploy.chart check-rendered" in c for c in job_commands(jobs["plan"]))
    up = job_commands(jobs["up"])
    deploy = [i for i, c in enumerate(up) if "helm upgrade --install" in c]
    verify = [i for i, c in enumerate(up) if "python -m deploy.verify" in c]
    assert deploy and verify and deploy[0] < verify[0]
    assert up[-1].startswith("python -m deploy.verify")  # the last word of a deploy is its verification
    tag = '--set "dagster-user-deployments.deployments[0].image.tag=$(python -m deploy.chart image-tag)"'
    assert tag in up[deploy[0]]
