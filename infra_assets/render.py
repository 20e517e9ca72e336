"""Rendering plans to text and files, and stack results to metadata-safe values.

Layout: `<out_dir>/<stack>/<file>` plus `<out_dir>/<stack>/plan.json` (mode, counts, file digests). Files
are written atomically (temp file + rename) so a reader never sees half a plan.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

from infra_assets.specs.gpu_pool import GpuPoolSpec

PLAN_SUMMARY = "plan.json"


class _NoAliasDumper(yaml.SafeDumper):
    """Plain YAML: repeated objects are written out, never as `&id001` anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def manifests_yaml(manifests: Iterable[Mapping[str, Any]]) -> str:
    """Multi-document YAML, `kubectl apply -f`-able."""
    docs = [dict(m) for m in manifests]
    return yaml.dump_all(docs, Dumper=_NoAliasDumper, sort_keys=False, default_flow_style=False)


def gpu_pool_yaml(pool: GpuPoolSpec, *, reason: str) -> str:
    """The pool's desired state as YAML (no API key: that is stack config, never part of the plan)."""
    doc = {
        "pool_name": pool.pool_name,
        "instance_type": pool.instance_type,
        "region": pool.region,
        "ssh_key_names": list(pool.ssh_key_names),
        "file_system_names": list(pool.file_system_names),
        "name_prefix": pool.name_prefix,
        "nodes": {"min": pool.min_nodes, "desired": pool.desired_nodes, "max": pool.max_nodes},
        "node_labels": dict(pool.labels),
        "node_taint": f"{pool.taint_key}=present:NoSchedule",
        "scaling": {
            "chunks_per_s_per_node": pool.chunks_per_s_per_node,
            "drain_target_s": pool.drain_target_s,
            "boot_time_s": pool.boot_time_s,
            "max_step_up": pool.max_step_up,
            "max_step_down": pool.max_step_down,
        },
        "reason": reason,
    }
    return yaml.safe_dump(doc, sort_keys=False)


def markdown_code(text: str, lang: str = "yaml") -> str:
    """A fenced block for `MetadataValue.md` (never truncated: split a long plan per object instead)."""
    fence = "````" if "```" in text else "```"
    return f"{fence}{lang}\n{text.rstrip()}\n{fence}"


def plan_metadata(title: str, objects: Mapping[str, str], paths: Mapping[str, Path]) -> dict[str, Any]:
    """A plan as asset metadata, whole however long it is: a `plan` summary listing the objects, a path entry
    per written file (`plan_file/<name>`) and one small entry per object (`plan/<object>`) with its text."""
    rows = "\n".join(f"| `{name}` | {len(text.splitlines())} |" for name, text in objects.items())
    summary = (
        f"**{title}**\n\n{len(objects)} object(s), each in its own `plan/<object>` entry; the files are linked "
        f"as `plan_file/<name>`.\n\n| object | lines |\n| --- | --- |\n{rows}"
    )
    metadata: dict[str, Any] = {"plan": dg.MetadataValue.md(summary)}
    metadata |= {f"plan_file/{name}": dg.MetadataValue.path(str(path)) for name, path in paths.items()}
    metadata |= {f"plan/{name}": dg.MetadataValue.md(markdown_code(text)) for name, text in objects.items()}
    return metadata


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_plan(out_dir: Path, stack: str, files: Mapping[str, str], summary: Mapping[str, Any]) -> dict[str, Path]:
    """Write `files` and a `plan.json` summary to `<out_dir>/<stack>/`; returns name -> path (incl. plan.json)."""
    stack_dir = out_dir / stack
    paths: dict[str, Path] = {}
    digests: dict[str, str] = {}
    for name, text in files.items():
        path = stack_dir / name
        _write_atomic(path, text)
        paths[name] = path
        digests[name] = hashlib.sha256(text.encode()).hexdigest()
    plan = {"stack": stack, **summary, "files": digests}
    _write_atomic(stack_dir / PLAN_SUMMARY, json.dumps(plan, indent=2, sort_keys=True, default=str) + "\n")
    paths[PLAN_SUMMARY] = stack_dir / PLAN_SUMMARY
    return paths


# ---------------------------------------------------------------- stack results -> metadata-safe values

MASK = "[secret]"


def redactor(secrets: Iterable[str | None]) -> Callable[[str], str]:
    """A function replacing every known secret value (longest first) in a text with `[secret]`."""
    values = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(v) for v in values)) if values else None

    def redact(text: str) -> str:
        return pattern.sub(MASK, text) if pattern else text

    return redact


def masked_outputs(
    outputs: Mapping[str, Any] | None, secret_names: Iterable[str] = (), redact: Callable[[str], str] = str
) -> dict[str, Any]:
    """Stack outputs with secret ones (by name, or `OutputValue.secret`) masked and the rest made JSON-safe."""
    secret = set(secret_names)
    masked: dict[str, Any] = {}
    for name, raw in (outputs or {}).items():
        is_secret = name in secret or bool(getattr(raw, "secret", False))
        value = getattr(raw, "value", raw) if hasattr(raw, "secret") else raw
        if is_secret:
            masked[name] = MASK
        else:
            masked[name] = json.loads(redact(json.dumps(value, default=str)))
    return masked


def change_counts(change_summary: Mapping[str, Any] | None) -> dict[str, int]:
    """`changes_<op>` counts plus `changes_total` (everything but `same`)."""
    counts = {str(op): int(n) for op, n in (change_summary or {}).items()}
    metadata = {f"changes_{op}": n for op, n in sorted(counts.items())}
    metadata["changes_total"] = sum(n for op, n in counts.items() if op != "same")
    return metadata
