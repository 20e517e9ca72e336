"""Rules every spec must pass before anything is planned or applied.

Pure: each `validate_*` returns a `ValidationReport` of findings plus counters. Secret-literal scanning
also produces *redacted* copies, so a bad spec can be rendered and reported without the literal ever
reaching a file, a log line or asset metadata. Findings name a location, never the offending value.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import kubernetes_validate

from infra_assets.specs.esc import GITHUB_SECRETS_KEY, ROTATED_KEY, EscEnvironmentSpec, esc_document
from infra_assets.specs.gpu_pool import GPU_POOL_LABEL, GpuPoolSpec
from infra_assets.specs.k8s import K8sSpec, manifest_id, render_manifests
from infra_assets.specs.node_pools import NodePoolSpec
from infra_assets.specs.pools import WORKLOAD_TYPE_LABEL

REDACTED = "[redacted: literal secret]"
MAX_POOL_NODES = 8
MAX_REPLICAS = 20
MUTABLE_TAGS = frozenset({"latest", "main", "master", "stable", "edge", "nightly", "dev", "head"})
# Variables the rest of the project reads; the ESC environment must export all of them.
REQUIRED_EXPORTS = frozenset(
    {
        "APIFY_TOKEN",
        "PHANTOMBUSTER_API_KEY",
        "TAVILY_API_KEY",
        "PINECONE_API_KEY",
        "SNOWFLAKE_ACCOUNT",
        "SNOWFLAKE_USER",
        "SNOWFLAKE_PASSWORD",
        "SNOWFLAKE_DATABASE",
        "SNOWFLAKE_SCHEMA",
        "SNOWFLAKE_WAREHOUSE",
        "SNOWFLAKE_ROLE",
        "PINECONE_INDEX_HOST",
        "PINECONE_SPARSE_INDEX_HOST",
        "TEI_URL",
        "LAMBDA_API_KEY",
        "PULUMI_ACCESS_TOKEN",
    }
)

_SECRET_WORDS = frozenset({"key", "apikey", "token", "secret", "password", "passwd", "pwd", "passphrase"})
_SECRET_WORDS |= {"credential", "credentials", "ciphertext"}
# Known credential formats (prefix-anchored so ordinary words don't match).
_SECRET_VALUE = re.compile(
    r"(?<![A-Za-z0-9])("
    r"sk-[A-Za-z0-9_\-]{20,}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|pul-[0-9a-f]{40}"
    r"|hf_[A-Za-z0-9]{30,}|tvly-[A-Za-z0-9\-]{20,}|apify_api_[A-Za-z0-9]{20,}|pcsk_[A-Za-z0-9_]{20,}"
    r"|secret_[A-Za-z0-9_\-]{20,}|dckr_pat_[A-Za-z0-9_\-]{20,}|AKIA[0-9A-Z]{16}|xox[abprs]-[A-Za-z0-9\-]{10,}"
    r"|eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.)"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
)
_REFERENCE = re.compile(r"^\$\{([^{}]+)\}$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_INSTANCE_TYPE = re.compile(r"^gpu_\d+x_[a-z0-9_]+$")
_CPU_INSTANCE_TYPE = re.compile(r"^cpu_\d+x_[a-z0-9_]+$")
_INSTANCE_NAME = re.compile(r"^[a-z0-9][a-z0-9\-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Finding:
    """One broken rule: which rule, where (never the offending value), and why."""

    rule: str  # image_pinned | replicas_in_bounds | secret_literal | schema | secret_exported | ...
    subject: str
    message: str


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """All findings of one spec plus counters for metadata."""

    subject: str
    findings: tuple[Finding, ...]
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.findings

    def count(self, rule: str) -> int:
        return sum(1 for f in self.findings if f.rule == rule)

    def markdown(self, limit: int = 50) -> str:
        if self.passed:
            return f"All rules passed for {self.subject}."
        rows = [f"| {f.rule} | `{f.subject}` | {f.message} |" for f in self.findings[:limit]]
        more = len(self.findings) - limit
        tail = [f"\n... and {more} more"] if more > 0 else []
        return "\n".join(["| rule | subject | problem |", "|---|---|---|", *rows, *tail])


def is_secret_name(name: str) -> bool:
    """True when a variable or key name says it holds a credential (`*_API_KEY`, `token`, `secretKey`...)."""
    words = re.findall(r"[a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower())
    return any(w in _SECRET_WORDS for w in words)


def looks_like_secret_value(value: str) -> bool:
    """True for strings shaped like a known credential (API key prefixes, JWTs, PEM keys)."""
    return bool(_SECRET_VALUE.search(value))


def image_pin_problem(image: str) -> str | None:
    """Why `image` is not pinned (no tag, a mutable tag like `latest`, a malformed digest), or None."""
    if "@" in image:
        digest = image.rsplit("@", 1)[1]
        return None if re.fullmatch(r"sha256:[0-9a-f]{64}", digest) else "malformed digest"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "no tag (resolves to :latest)"
    tag = last.rsplit(":", 1)[1]
    if tag.lower() in MUTABLE_TAGS:
        return f"mutable tag :{tag}"
    return None


# ---------------------------------------------------------------- secret literals (scan + redact)


def _walk(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any, Any]]:
    """Yield (path, container, key) for every leaf, so callers can read and replace it."""
    items: Iterable[tuple[Any, Any]]
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return
    for key, value in list(items):
        if isinstance(value, dict | list):
            yield from _walk(value, (*path, str(key)))
        else:
            yield (*path, str(key)), node, key


def scan_manifests(manifests: Iterable[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[Finding]]:
    """Redacted copies of the manifests and the literal secrets found in them.

    Flags: Secret objects carrying data, env entries whose name says secret but which set `value`, and
    any string shaped like a known credential.
    """
    redacted: list[dict[str, Any]] = []
    findings: list[Finding] = []
    for original in manifests:
        m = copy.deepcopy(dict(original))
        mid = manifest_id(m)
        if m.get("kind") == "Secret" and (m.get("data") or m.get("stringData")):
            findings.append(Finding("secret_literal", mid, "Secret with inline data; sync it from ESC instead"))
            for section in ("data", "stringData"):
                if isinstance(m.get(section), dict):
                    m[section] = dict.fromkeys(m[section], REDACTED)
        for path, container, key in _walk(m):
            value = container[key]
            if not isinstance(value, str) or not value:
                continue
            env_name = container.get("name") if isinstance(container, dict) and key == "value" else None
            if isinstance(env_name, str) and is_secret_name(env_name):
                findings.append(Finding("secret_literal", mid, f"env {env_name} sets a literal value"))
                container[key] = REDACTED
            elif looks_like_secret_value(value) and value != REDACTED:
                findings.append(Finding("secret_literal", mid, f"credential-shaped value at {'.'.join(path)}"))
                container[key] = REDACTED
        redacted.append(m)
    return redacted, findings


def scan_esc_document(document: Mapping[str, Any]) -> tuple[dict[str, Any], list[Finding]]:
    """Redacted copy of an ESC definition and its literal secrets.

    Allowed secret forms: a `${...}` reference, `fn::secret: {ciphertext: ...}` and `fn::open::*` providers.
    Flagged: plaintext `fn::secret`, credential-shaped strings, secret-named keys holding a literal.
    """
    doc = copy.deepcopy(dict(document))
    findings: list[Finding] = []
    for path, container, key in _walk(doc.get("values", {}), ("values",)):
        value = container[key]
        if not isinstance(value, str) or value == REDACTED:
            continue
        where = ".".join(path)
        if path[-1] == "fn::secret":
            findings.append(Finding("secret_literal", where, "plaintext fn::secret (use esc env set --secret)"))
        elif looks_like_secret_value(value):
            findings.append(Finding("secret_literal", where, "credential-shaped literal"))
        elif is_secret_name(str(key)) and not _REFERENCE.match(value) and "ciphertext" not in path:
            findings.append(Finding("secret_literal", where, "secret-named key holds a literal, not a reference"))
        else:
            continue
        container[key] = REDACTED
    return doc, findings


# ---------------------------------------------------------------- per-spec validation


def validate_gpu_pool(pool: GpuPoolSpec) -> ValidationReport:
    """Node bounds, instance type and name formats, exactly one SSH key, node labels."""
    f: list[Finding] = []
    s = pool.pool_name
    if not 0 <= pool.min_nodes <= pool.desired_nodes <= pool.max_nodes <= MAX_POOL_NODES:
        f.append(
            Finding(
                "nodes_in_bounds",
                s,
                f"need 0 <= min ({pool.min_nodes}) <= desired ({pool.desired_nodes})"
                f" <= max ({pool.max_nodes}) <= {MAX_POOL_NODES}",
            )
        )
    if not _INSTANCE_TYPE.match(pool.instance_type):
        f.append(Finding("instance_type", s, f"{pool.instance_type!r} is not a Lambda GPU instance type"))
    if not re.fullmatch(r"[a-z]+(-[a-z]+)+-\d+", pool.region):
        f.append(Finding("region", s, f"{pool.region!r} is not a Lambda region name"))
    if len(pool.ssh_key_names) != 1:
        f.append(Finding("ssh_keys", s, "Lambda launches take exactly one SSH key name"))
    if not _INSTANCE_NAME.match(f"{pool.name_prefix}-000"):  # the provider names nodes <prefix>-NNN
        f.append(Finding("name_prefix", s, "instance names must be lowercase, <= 64 chars"))
    if pool.labels.get(GPU_POOL_LABEL) != pool.pool_name:
        f.append(Finding("labels", s, f"label {GPU_POOL_LABEL} must equal the pool name"))
    f += [
        Finding("labels", s, f"label {k} has an invalid value")
        for k, v in pool.labels.items()
        if not _LABEL_VALUE.match(v)
    ]
    if min(pool.chunks_per_s_per_node, pool.drain_target_s) <= 0 or pool.boot_time_s < 0:
        f.append(Finding("scaling", s, "throughput and drain target must be positive, boot time not negative"))
    if min(pool.max_step_up, pool.max_step_down) < 1:
        f.append(Finding("scaling", s, "scaling steps must be at least one node"))
    return ValidationReport(f"gpu pool {s}", tuple(f), {"desired_nodes": pool.desired_nodes})


def validate_node_pool(pool: NodePoolSpec) -> ValidationReport:
    """Node bounds, a CPU instance type, instance names, an SSH key, a workload-type label, valid label values and
    at least one signal."""
    f: list[Finding] = []
    s = pool.pool_name
    if not 0 <= pool.min_nodes <= pool.desired_nodes <= pool.max_nodes <= MAX_POOL_NODES or pool.max_nodes < 1:
        f.append(
            Finding(
                "nodes_in_bounds",
                s,
                f"need 0 <= min ({pool.min_nodes}) <= desired ({pool.desired_nodes}) <= max ({pool.max_nodes}), "
                f"1 <= max <= {MAX_POOL_NODES}",
            )
        )
    if not _CPU_INSTANCE_TYPE.match(pool.instance_type):
        f.append(Finding("instance_type", s, f"{pool.instance_type!r} is not a CPU instance type"))
    if not pool.labels.get(WORKLOAD_TYPE_LABEL):
        f.append(Finding("labels", s, f"label {WORKLOAD_TYPE_LABEL} is required (workloads select the pool by it)"))
    f += [
        Finding("labels", s, f"label {k} has an invalid value")
        for k, v in pool.labels.items()
        if not _LABEL_VALUE.match(v)
    ]
    if not _INSTANCE_NAME.match(f"{pool.name_prefix}-000"):  # the provider names nodes <prefix>-NNN
        f.append(Finding("name_prefix", s, "instance names must be lowercase, <= 64 chars"))
    if not pool.ssh_key_names:
        f.append(Finding("ssh_key_names", s, "at least one SSH key is required (the provider refuses none)"))
    if pool.runs_per_node is None and pool.business_hours is None:
        f.append(Finding("scaling", s, "declare a signal: runs_per_node (run queue) or business_hours"))
    if (pool.runs_per_node is not None and pool.runs_per_node < 1) or min(pool.max_step_up, pool.max_step_down) < 1:
        f.append(Finding("scaling", s, "runs per node and scaling steps must be at least 1"))
    return ValidationReport(f"node pool {s}", tuple(f), {"desired_nodes": pool.desired_nodes})


def _references(document: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for path, container, key in _walk(document.get("values", {}), ("values",)):
        value = container[key]
        if isinstance(value, str):
            for ref in re.findall(r"\$\{([^{}]+)\}", value):
                yield ".".join(path), ref


def _resolves(values: Mapping[str, Any], ref: str) -> bool:
    """The path exists, or reaches a provider (`fn::open::*`) whose outputs are known only when opened."""
    node: Any = values
    for part in ref.split("."):
        if isinstance(node, Mapping) and any(str(k).startswith("fn::open::") for k in node):
            return True
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def validate_esc(spec: EscEnvironmentSpec, document: Mapping[str, Any] | None = None) -> ValidationReport:
    """No secret literals; every reference resolves; exports are valid, unique, and cover what we read."""
    doc = dict(document or esc_document(spec))
    _, f = scan_esc_document(doc)
    values = doc.get("values", {})
    refs = list(_references(doc))
    for where, ref in refs:
        imported = ref.split(".", 1)[0] in (GITHUB_SECRETS_KEY, ROTATED_KEY) and bool(doc.get("imports"))
        if not imported and not _resolves(values, ref):
            f.append(Finding("reference", where, f"${{{ref}}} does not resolve"))
    exports = values.get("environmentVariables", {})
    f += [
        Finding("env_name", f"environmentVariables.{k}", "not a valid variable name")
        for k in exports
        if not _ENV_NAME.match(k)
    ]
    names = [s.env_var for s in spec.secrets]
    f += [Finding("env_name", n, "exported twice") for n in sorted({n for n in names if names.count(n) > 1})]
    f += [
        Finding("secret_exported", n, "required by the project but not exported")
        for n in sorted(REQUIRED_EXPORTS - set(exports))
    ]
    counts = {
        "secrets_referenced": len(spec.secrets),
        "env_vars_exported": len(exports),
        "references": len(refs),
    }
    return ValidationReport(f"esc {spec.qualified_name}", tuple(f), counts)


def schema_findings(manifests: Iterable[Mapping[str, Any]], version: str) -> tuple[list[Finding], int, list[str]]:
    """Strict validation against the bundled Kubernetes JSON schemas (offline).

    Returns (findings, validated count, ids skipped because no schema ships for their kind, i.e. CRDs).
    """
    findings: list[Finding] = []
    validated, skipped = 0, []
    for m in manifests:
        mid = manifest_id(m)
        try:
            kubernetes_validate.validate(dict(m), version, strict=True)
            validated += 1
        except kubernetes_validate.SchemaNotFoundError:
            skipped.append(mid)
        except kubernetes_validate.ValidationError as e:
            validated += 1
            where = ".".join(str(p) for p in e.absolute_path) or "<root>"
            findings.append(Finding("schema", mid, f"{where}: {e.message}"[:300]))
    return findings, validated, skipped


def validate_k8s(spec: K8sSpec, manifests: list[dict[str, Any]] | None = None) -> ValidationReport:
    """Pinned images, replica bounds, GPU placement, ESC-exported secret keys, no literals, schemas."""
    f: list[Finding] = []
    exported = set(spec.esc.exported_env_vars)
    for w in spec.workloads:
        subject = f"{w.namespace}/{w.name}"
        if problem := image_pin_problem(w.image):
            f.append(Finding("image_pinned", subject, f"image not pinned: {problem}"))
        if not 0 <= w.min_replicas <= w.replicas <= w.max_replicas <= MAX_REPLICAS:
            f.append(
                Finding(
                    "replicas_in_bounds",
                    subject,
                    f"replicas {w.replicas} outside [{w.min_replicas}, {w.max_replicas}] (cap {MAX_REPLICAS})",
                )
            )
        if w.resources.gpus and not w.on_gpu_pool:
            f.append(Finding("gpu_placement", subject, "requests GPUs but does not target the GPU pool"))
        f += [
            Finding("secret_exported", subject, f"{k} is not exported by the ESC environment")
            for k in w.secret_env
            if k not in exported
        ]
        if w.namespace not in spec.namespaces:
            f.append(Finding("namespace", subject, f"namespace {w.namespace} is not declared"))
    raw = manifests if manifests is not None else render_manifests(spec)
    redacted, literal_findings = scan_manifests(raw)
    f += literal_findings
    schema, validated, skipped = schema_findings(redacted, spec.kubernetes_version)
    f += schema
    counts = {
        "manifests": len(raw),
        "schema_validated": validated,
        "schema_skipped_crds": len(skipped),
        "workloads": len(spec.workloads),
    }
    return ValidationReport(f"k8s {spec.env}", tuple(f), counts)
