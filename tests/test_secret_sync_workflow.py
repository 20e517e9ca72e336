"""The GitHub -> ESC sync workflow: generated from the catalogue, every org secret written, none ever printed.

The script is also run for real (bash) against a fake `esc` on PATH that keeps the mirror in a directory, with
planted values: each lands in the mirror via stdin as a secret, an unchanged value is not rewritten, a missing
one is named (never valued), and no value reaches stdout/stderr.
"""

from __future__ import annotations

import os
import re
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

from infra_assets.secrets.sync_workflow import NAMES_VAR, WORKFLOW_PATH, render_workflow
from infra_assets.specs.esc import GITHUB_SECRETS_KEY, build_esc_spec
from resources.profile import profile

ROOT = Path(__file__).resolve().parents[1]
BRIEF_NAMES = {
    "ARIZE_SPACE_ID",
    "ARIZE_API_KEY",
    "OPENROUTER_API_KEY",
    "PORTKEY_API_KEY",
    "PORTKEY_CONFIG",
    "HUGGINGFACE_API_TOKEN",
    "TOGETHER_AI_API_KEY",
    "APIFY_API_TOKEN",
    "PHANTOM_BUSTER_API_KEY",
    "TWINGLY_API_KEY",
    "TAVILY_API_KEY",
    "ZENROWS_API_KEY",
    "LAMBDA_LABS_API_KEY",
    "DOCKER_USER_NAME",
    "DOCKER_PERSONAL_ACCESS_TOKEN",
    "PULUMI_ACCESS_TOKEN",
}


def _workflow() -> dict:
    return yaml.safe_load((ROOT / WORKFLOW_PATH).read_text(encoding="utf-8"))


def _sync_step(doc: dict) -> dict:
    return next(s for s in doc["jobs"]["sync"]["steps"] if NAMES_VAR in s.get("env", {}))


def test_the_committed_workflow_is_the_generated_one() -> None:
    assert (ROOT / WORKFLOW_PATH).read_text(encoding="utf-8") == render_workflow()


def test_every_org_secret_is_passed_under_its_own_name_and_listed_once() -> None:
    doc = _workflow()
    triggers = doc[True] if True in doc else doc["on"]  # YAML 1.1 reads a bare `on` as a boolean
    assert "workflow_dispatch" in triggers and triggers["schedule"][0]["cron"]
    org = build_esc_spec(profile("production")).org_secrets
    assert set(org) >= BRIEF_NAMES  # the brief's names, none renamed
    env = _sync_step(doc)["env"]
    assert env[NAMES_VAR].split() == list(org)
    for name in org:
        assert env[name] == f"${{{{ secrets.{name} }}}}"
    assert set(env) == {*org, NAMES_VAR}


def test_no_step_traces_or_echoes_a_secret() -> None:
    names = build_esc_spec(profile("production")).org_secrets
    for step in _workflow()["jobs"]["sync"]["steps"]:
        script = step.get("run", "")
        assert not re.search(r"set\s+-[a-wyz]*x", script), "tracing would print every value"
        for line in script.splitlines():
            if re.search(r"\b(echo|printf|cat)\b", line):
                assert "$value" not in line.replace('"$value" |', "") and "${!name" not in line, line
                assert not any(f"${n}" in line or f"${{{n}}}" in line for n in names), line
        assert "::add-mask::" not in script  # masking would itself write the value to the log stream


FAKE_ESC = textwrap.dedent(
    """\
    #!/usr/bin/env bash
    # fake esc: the mirror is a directory, one file per path; calls logged without values
    store="$FAKE_ESC_STORE"; echo "$*" >> "$store/calls.log"
    case "$1 $2" in
      "env init") exit 0 ;;
      "env get") [ -f "$store/$4" ] && cat "$store/$4"; exit 0 ;;
      "env set")
        for a in "$@"; do [ "$a" = "--secret" ] && secret=1; done
        [ "${secret:-}" = 1 ] || { echo "not a secret" >&2; exit 3; }
        cat > "$store/$4"; exit 0 ;;
    esac
    exit 2
    """
)


@pytest.fixture
def fake_esc(tmp_path: Path) -> Path:
    bin_dir, store = tmp_path / "bin", tmp_path / "store"
    bin_dir.mkdir()
    store.mkdir()
    esc = bin_dir / "esc"
    esc.write_text(FAKE_ESC)
    esc.chmod(0o755)
    return tmp_path


def _run(script: str, env: dict[str, str], root: Path) -> subprocess.CompletedProcess[str]:
    full = {
        "PATH": f"{root / 'bin'}:{os.environ['PATH']}",
        "FAKE_ESC_STORE": str(root / "store"),
        "PULUMI_ORG": "sophia-ai",
        "ESC_PROJECT": "sophia-ai",
        **env,
    }
    return subprocess.run(["bash", "-c", script], env=full, capture_output=True, text=True, timeout=60, check=False)


def test_the_script_writes_each_secret_via_stdin_and_never_prints_one(fake_esc: Path) -> None:
    step = _sync_step(_workflow())
    names = step["env"][NAMES_VAR].split()
    planted = {n: f"planted-{n.lower()}-Zq9{i:02d}\nsecond line" for i, n in enumerate(names[:-1])}
    env = {**planted, NAMES_VAR: step["env"][NAMES_VAR]}  # the last secret is not set in the org

    first = _run(step["run"], env, fake_esc)
    assert first.returncode == 0, first.stderr
    store = fake_esc / "store"
    for name, value in planted.items():
        assert (store / f"{GITHUB_SECRETS_KEY}.{name}").read_text() == value
    assert not (store / f"{GITHUB_SECRETS_KEY}.{names[-1]}").exists()
    assert f"organization secret {names[-1]} is not set" in first.stdout
    assert f"{len(planted)} written, 0 unchanged, 1 not set" in first.stdout

    second = _run(step["run"], env, fake_esc)  # nothing changed: no new revision in the mirror
    assert f"0 written, {len(planted)} unchanged, 1 not set" in second.stdout

    calls = (store / "calls.log").read_text()
    sets = [c for c in calls.splitlines() if c.startswith("env set")]
    assert len(sets) == len(planted) and all("--secret --string --file -" in c for c in sets)
    output = first.stdout + first.stderr + second.stdout + second.stderr + calls
    for value in planted.values():
        for line in value.splitlines():
            if line != "second line":
                assert line not in output
