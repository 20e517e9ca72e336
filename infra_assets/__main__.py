"""Stack-level entry point for CI and operators (no Dagster instance needed).

    python -m infra_assets plan --env production           # render every stack's plan, no Pulumi needed
    python -m infra_assets plan --stack production-k8s
    python -m infra_assets preview --stack production-k8s  # Automation API preview
    python -m infra_assets up --stack production-gpu-pool --desired-nodes 2
    python -m infra_assets up --stack production-data-intelligence-pool --desired-nodes 2  # a CPU node pool
    python -m infra_assets scale --env production --pool business-intelligence-pool --desired-nodes 2  # = up
    python -m infra_assets scale --env production --workload data-intelligence-mcp --factor 2  # replicas x2, up
    python -m infra_assets scale --workload data-intelligence-mcp --factor 0.5 --plan        # write the plan only
    python -m infra_assets bootstrap --env production       # esc, cluster, kubeconfig, every pool, k8s: `up` each

Credentials come from the environment (LAMBDA_API_KEY, PULUMI_ACCESS_TOKEN, PULUMI_CONFIG_PASSPHRASE,
KUBECONFIG, ...), e.g. via `esc run <org>/sophia-ai/production -- python -m infra_assets preview ...`.

Input is checked before anything is written: an unknown environment (`--env`, a stack's `<env>-` prefix), an
unknown SOPHIA_INFRA_MODE or a `--desired-nodes` outside the pool's min..max exits 2 with no plan files.
`--desired-nodes` sizes the pool of a pool stack (`<env>-gpu-pool`, `<env>-<pool name>`); on the k8s stack, TEI.
Without it, each pool stack and the k8s stack keep the pools' current sizes (`infra_assets.pool_size`: the stack's
outputs for preview/up, the last plan for plan), and the k8s stack keeps each workload's replicas
(`infra_assets.replicas`). `scale --pool <pool name> --desired-nodes N` runs `up` of that pool's stack (`--plan`:
the plan only), as the pool's scaling job does. `scale --workload W --factor F` multiplies one workload's current
replicas by F (rounded up, kept within the workload's min..max; TEI follows the GPU pool and is refused) and runs
`up` of the k8s stack (`--plan`: write the plan only), as the `scale_workloads_job` does with run config `replicas`.

`bootstrap` takes an empty account to a running cluster, one idempotent step after another (each an `up`, so a
re-run changes nothing that is already there): the ESC environment, the cluster stack (k3s server, tokens,
kubeconfig), the cluster's kubeconfig written to `<out>/<env>-cluster/kubeconfig` (mode 0600; never printed), the
GPU pool and each CPU node pool (their nodes join), then the k8s stack with that kubeconfig and the Pulumi token as
the External Secrets store's Secret (the operator chart and the NVIDIA device plugin are part of that stack).
"""

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from infra_assets.assets import (
    StackWork,
    cluster_work,
    esc_work,
    gpu_pool_work,
    k8s_work,
    missing_credentials,
    run_pulumi,
    secret_redactor,
)
from infra_assets.autoscaling import ReplicaBounds
from infra_assets.autoscaling.workloads import replicas_key, scale_workloads
from infra_assets.environment import infra_settings, pulumi_resource, resource_fields
from infra_assets.node_pools import node_pool_work
from infra_assets.pool_size import PoolSizeUnavailable, current_node_pool_size, usable_pool_size
from infra_assets.programs.cluster import KUBECONFIG_OUTPUT
from infra_assets.programs.k8s import ACCESS_TOKEN_CONFIG
from infra_assets.render import change_counts, masked_outputs, write_plan
from infra_assets.replicas import kept_replicas, last_planned_replicas
from infra_assets.settings import (
    CLUSTER,
    ESC,
    GPU_POOL,
    K8S,
    MODE_ENV_VAR,
    InfraSettings,
    check_env,
    check_mode,
    env_stacks,
    node_pool_plan,
    parse_pool_stack,
    parse_stack_name,
)
from infra_assets.specs.gpu_pool import NodeCountError
from infra_assets.specs.k8s import ReplicaCountError
from resources.profile import current_env
from resources.pulumi_stack import (
    PulumiCliMissingError,
    PulumiStackResource,
    StackConfigValue,
    StackLockedError,
    cli_available,
)

EXIT_OK = 0
EXIT_PULUMI_FAILED = 1
EXIT_USAGE = 2
EXIT_NO_CLI = 3
EXIT_INVALID_SPEC = 4
EXIT_MISSING_CREDENTIALS = 5
EXIT_STACK_LOCKED = 6

NO_CLI_MESSAGE = (
    "error: the pulumi CLI is not on PATH. Install it (`curl -fsSL https://get.pulumi.com | sh`, or "
    "pulumi/actions in GitHub Actions) and log in to the backend. `python -m infra_assets plan` renders "
    "the desired state without it."
)


COMMAND_MODES = {"plan": "plan", "preview": "preview", "up": "apply"}  # command -> infra mode
SCALE = "scale"
BOOTSTRAP = "bootstrap"
BOOTSTRAP_STEPS = (ESC, CLUSTER, GPU_POOL, K8S)  # the order an empty account needs them in (CPU pools before k8s)
KUBECONFIG_FILE = "kubeconfig"


def _settings(env: str, command: str, out_dir: str | None) -> InfraSettings:
    """The infra settings from the environment (secret values resolved), in the command's mode."""
    overrides = {"mode": COMMAND_MODES[command], **({"out_dir": out_dir} if out_dir else {})}
    return infra_settings(env, secrets="value", **overrides)


def _pulumi_resource() -> PulumiStackResource:
    return pulumi_resource(secrets="value")


def stack_of(infra: InfraSettings, component: str) -> str:
    """The stack of a component or of a CPU node pool (named by the pool)."""
    return node_pool_plan(infra.env, component) if component in infra.profile.cpu_pools else infra.stack(component)


def bootstrap_steps(infra: InfraSettings) -> list[str]:
    """`BOOTSTRAP_STEPS` with each CPU node pool after the GPU pool: the pools join before k8s deploys onto them."""
    steps = list(BOOTSTRAP_STEPS)
    steps[steps.index(K8S) : steps.index(K8S)] = list(infra.profile.cpu_pools)
    return steps


def build_work(
    infra: InfraSettings, component: str, desired_nodes: int | None, replicas: dict[str, int] | None = None
) -> StackWork:
    """The stack's work, as the asset would build it (`desired_nodes` sizes the pool / TEI, `replicas` workloads).

    `component` is a stack component (`settings.COMPONENTS`) or a CPU node pool's name (its stack `<env>-<pool>`).
    Raises `NodeCountError` / `ReplicaCountError` when a size is outside its bounds.
    """
    if component in infra.profile.cpu_pools:
        pool = infra.specs().node_pool(component)
        nodes = pool.desired_nodes if desired_nodes is None else pool.check_nodes(desired_nodes)
        return node_pool_work(infra, pool.with_desired(nodes), "python -m infra_assets")
    if component == ESC:
        return esc_work(infra)
    if component == CLUSTER:
        return cluster_work(infra)
    if component == GPU_POOL:
        nodes = infra.specs().gpu_pool.desired_nodes if desired_nodes is None else desired_nodes
        return gpu_pool_work(infra, nodes, "python -m infra_assets")
    return k8s_work(infra, desired_nodes, replicas, lambda message: print(f"{infra.stack(K8S)}: {message}"))


@dataclass(frozen=True)
class StackJob:
    """One stack the command runs: its settings, component and the work built (and checked) up front."""

    stack: str
    infra: InfraSettings
    component: str
    work: StackWork
    replicas: dict[str, int] | None = None  # `scale`: the workload's new replicas


def scaled_replicas(infra: InfraSettings, workload: str, factor: float) -> tuple[int, int, str]:
    """(current, new, allowed range) of `workload` scaled by `factor` (`ReplicaCountError`/`ValueError` if not)."""
    spec = infra.specs().k8s
    w = spec.workload(workload)
    w.check_replicas(w.min_replicas)  # refuses a workload that follows the GPU pool
    recorded = last_planned_replicas(infra.output_dir, infra.stack(K8S))
    current = kept_replicas(spec, recorded, print).get(workload, w.replicas)
    key = replicas_key(workload)
    new = scale_workloads({key: current}, workload, factor, ReplicaBounds(w.min_replicas, w.max_replicas))
    return current, new[key], w.allowed_range


def prepare_scale_pool(args: argparse.Namespace) -> list[StackJob]:
    """The stack of `--pool` at `--desired-nodes` (`ValueError` on bad input, an unknown pool or size)."""
    if args.desired_nodes is None or args.workload is not None or args.factor is not None or args.stack:
        raise ValueError("scale --pool takes --desired-nodes (with --env, --out, --plan), not --stack/--workload")
    env = check_env(args.env or current_env())
    infra = _settings(env, "plan" if args.plan else "up", args.out)
    pools = {infra.specs().gpu_pool.pool_name: GPU_POOL, **{p: p for p in infra.profile.cpu_pools}}
    if args.pool not in pools:
        raise ValueError(f"unknown pool {args.pool!r}; expected one of {', '.join(pools)}")
    component = pools[args.pool]
    try:
        work = build_work(infra, component, args.desired_nodes)
    except NodeCountError as e:
        raise ValueError(f"scale {args.pool}: {e}") from None
    print(f"{work.stack}: {args.pool} to {args.desired_nodes} node(s)")
    return [StackJob(work.stack, infra, component, work)]


def prepare_scale(args: argparse.Namespace) -> list[StackJob]:
    """The k8s stack of `--env` with `--workload`'s replicas times `--factor` (`ValueError` on bad input)."""
    if args.pool is not None:
        return prepare_scale_pool(args)
    if args.workload is None or args.factor is None or args.stack or args.desired_nodes is not None:
        raise ValueError("scale takes --workload and --factor (with --env, --out, --plan), not --stack/--desired-nodes")
    env = check_env(args.env or current_env())
    infra = _settings(env, "plan" if args.plan else "up", args.out)
    try:
        old, new, allowed = scaled_replicas(infra, args.workload, args.factor)
        replicas = {args.workload: new}
        work = build_work(infra, K8S, None, replicas)
    except (ReplicaCountError, ValueError) as e:
        raise ValueError(f"scale {args.workload}: {e}") from None
    print(f"{infra.stack(K8S)}: {args.workload} {old} -> {new} replica(s) (factor {args.factor:g}, allowed {allowed})")
    return [StackJob(infra.stack(K8S), infra, K8S, work, replicas)]


def prepare(args: argparse.Namespace) -> list[StackJob]:
    """Check every input and build every stack's work before anything is written (`ValueError` on bad input)."""
    try:
        check_mode(resource_fields("infra", secrets="value")["mode"])
    except ValueError as e:
        raise ValueError(f"{MODE_ENV_VAR}: {e}") from None
    if args.env is not None:
        check_env(args.env)
    if args.command == SCALE:
        return prepare_scale(args)
    if args.workload is not None or args.factor is not None or args.plan or args.pool is not None:
        raise ValueError("--workload, --factor, --pool and --plan go with the scale command")
    jobs: list[StackJob] = []
    for stack in _stacks(args):
        env, component = parse_pool_stack(stack) or parse_stack_name(stack)
        try:
            infra = _settings(check_env(env), args.command, args.out)
            work = build_work(infra, component, args.desired_nodes)
        except NodeCountError as e:
            raise ValueError(f"--desired-nodes for {stack}: {e}") from None
        except ValueError as e:
            raise ValueError(f"stack {stack}: {e}") from None
        jobs.append(StackJob(stack, infra, component, work))
    return jobs


def _sized(args: argparse.Namespace, job: StackJob, pulumi: PulumiStackResource) -> StackWork:
    """The job's work at the pool's current size when the stack follows a pool and no size was given."""
    if args.desired_nodes is not None:
        return job.work

    def warn(message: str) -> None:
        print(f"{job.stack}: {message}")

    if job.component in job.infra.profile.cpu_pools:
        pool = job.infra.specs().node_pool(job.component)
        current = current_node_pool_size(job.infra, pulumi, pool)
        if message := current.stale_warning(pool):
            warn(message)
        kept = current.usable(pool)
        print(f"{job.stack}: keeping node pool {pool.pool_name} at its current {kept} node(s), from {current.label}")
        return build_work(job.infra, job.component, kept)
    if job.component not in (GPU_POOL, K8S):
        return job.work

    size, kept = usable_pool_size(job.infra, pulumi, warn)
    print(f"{job.stack}: keeping the GPU pool at its current {kept} node(s), from {size.label}")
    rebuilt = build_work(job.infra, job.component, kept, job.replicas)
    extra = {k: v for k, v in job.work.config.items() if k not in rebuilt.config}  # e.g. bootstrap's token
    return dataclasses.replace(rebuilt, config={**rebuilt.config, **extra}) if extra else rebuilt


def _stacks(args: argparse.Namespace) -> list[str]:
    if args.stack:
        return list(args.stack)
    if args.command == "plan":
        return env_stacks(check_env(args.env or current_env()))
    raise ValueError("give --stack (preview/up) or --env (plan)")


def _action(args: argparse.Namespace) -> str:
    """The stack action: the command, or for `scale` `up` (`plan` with `--plan`); `bootstrap` runs `up`."""
    if args.command == SCALE:
        return "plan" if args.plan else "up"
    if args.command == BOOTSTRAP:
        return "up"
    return args.command


def write_kubeconfig(infra: InfraSettings, pulumi: PulumiStackResource) -> Path:
    """The cluster stack's secret `kubeconfig` output written to `<out>/<env>-cluster/kubeconfig` (0600)."""
    outputs = pulumi.outputs(infra.stack(CLUSTER), cluster_work(infra).program, reveal_secrets=True)
    kubeconfig = outputs.get(KUBECONFIG_OUTPUT)
    if not isinstance(kubeconfig, str) or not kubeconfig:
        raise PoolSizeUnavailable(f"stack {infra.stack(CLUSTER)} has no kubeconfig output yet")
    path = infra.output_dir / infra.stack(CLUSTER) / KUBECONFIG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(kubeconfig)
    return path


def bootstrap(args: argparse.Namespace) -> int:
    """Each bootstrap step in order (see the module doc); stops at the first that fails."""
    extra = (args.stack, args.workload, args.factor, args.desired_nodes, args.pool)
    if args.plan or any(v is not None for v in extra):
        print("error: bootstrap takes --env and --out only", file=sys.stderr)
        return EXIT_USAGE
    try:
        env = check_env(args.env or current_env())
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    infra = _settings(env, "up", args.out)
    pulumi = _pulumi_resource()
    steps = bootstrap_steps(infra)
    print(f"bootstrap {env}: " + " -> ".join(stack_of(infra, c) for c in steps))
    for component in steps:
        step = infra
        work = build_work(step, component, None)
        if component == K8S:
            try:
                path = write_kubeconfig(infra, pulumi)
            except Exception as e:
                print(
                    f"error: reading the cluster's kubeconfig: {secret_redactor(infra, pulumi, work)(str(e))}",
                    file=sys.stderr,
                )
                return EXIT_PULUMI_FAILED
            print(f"{infra.stack(CLUSTER)}: kubeconfig written to {path} (mode 0600)")
            step = infra.model_copy(update={"kubeconfig": str(path)})
            work = build_work(step, component, None)
            token = getattr(pulumi, "access_token", None)
            if token:
                config = {**work.config, ACCESS_TOKEN_CONFIG: StackConfigValue(token, secret=True)}
                work = dataclasses.replace(work, config=config)
        code = _run_one(args, StackJob(work.stack, step, component, work))
        if code != EXIT_OK:
            print(
                f"bootstrap stopped at {work.stack} (exit {code}); fix and re-run: done steps stay.",
                file=sys.stderr,
            )
            return code
    print(f"bootstrap {env}: done")
    return EXIT_OK


def _run_one(args: argparse.Namespace, job: StackJob) -> int:
    stack, infra = job.stack, job.infra
    command = _action(args)
    pulumi = _pulumi_resource()
    try:
        work = _sized(args, job, pulumi)
    except PoolSizeUnavailable as e:
        print(f"error: {stack}: {e}; give --desired-nodes or retry.", file=sys.stderr)
        return EXIT_PULUMI_FAILED
    paths = write_plan(infra.output_dir, stack, work.files, {"mode": command, **work.metadata})
    print(f"{stack}: plan written to {paths[next(iter(work.files))].parent}")
    if not work.report.passed:
        print(f"{stack}: spec validation failed:\n{work.report.markdown()}", file=sys.stderr)
        return EXIT_INVALID_SPEC
    if command == "plan":
        return EXIT_OK
    if not cli_available():
        print(NO_CLI_MESSAGE, file=sys.stderr)
        return EXIT_NO_CLI
    if missing := missing_credentials(infra, pulumi, work.component):
        print(f"error: {stack} needs {', '.join(missing)} in the environment.", file=sys.stderr)
        return EXIT_MISSING_CREDENTIALS
    redact = secret_redactor(infra, pulumi, work)
    try:
        result = run_pulumi(pulumi, work, command, redact, print)
    except PulumiCliMissingError:
        print(NO_CLI_MESSAGE, file=sys.stderr)
        return EXIT_NO_CLI
    except StackLockedError:
        print(f"error: stack {stack} is locked by another update; retry later.", file=sys.stderr)
        return EXIT_STACK_LOCKED
    except Exception as e:  # dg.Failure from run_pulumi: already redacted
        print(f"error: {getattr(e, 'description', None) or e}", file=sys.stderr)
        return EXIT_PULUMI_FAILED
    counts = change_counts(result.change_summary)
    print(f"{stack}: {command} done; changes: {counts}")
    outputs = masked_outputs(result.outputs, getattr(result, "secret_output_names", ()), redact)
    if outputs:
        print(f"{stack}: outputs: {outputs}")
    return EXIT_OK


def parser() -> argparse.ArgumentParser:
    """The argument parser (exit codes in the epilog)."""
    p = argparse.ArgumentParser(prog="python -m infra_assets", description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("command", choices=["plan", "preview", "up", SCALE, BOOTSTRAP])
    p.add_argument("--stack", action="append", help="e.g. production-k8s (repeatable)")
    p.add_argument("--env", help="plan: every stack of this environment (a profile name; default: SOPHIA_ENV)")
    p.add_argument("--out", default=None, help="plan directory (default: SOPHIA_INFRA_OUT, else .sophia/infra)")
    p.add_argument(
        "--desired-nodes", type=int, default=None, help="pool size, within its min..max (a pool stack; k8s: TEI)"
    )
    p.add_argument("--pool", help="scale: the pool to resize to --desired-nodes, e.g. data-intelligence-pool")
    p.add_argument("--workload", help="scale: the k8s workload, e.g. data-intelligence-mcp")
    p.add_argument("--factor", type=float, help="scale: multiply its current replicas (rounded up, within min..max)")
    p.add_argument("--plan", action="store_true", help="scale: write the k8s plan only (default: up)")
    p.epilog = (
        f"exit codes: {EXIT_OK} ok, {EXIT_PULUMI_FAILED} pulumi failed, {EXIT_USAGE} usage, {EXIT_NO_CLI} no "
        f"pulumi CLI, {EXIT_INVALID_SPEC} invalid spec, {EXIT_MISSING_CREDENTIALS} missing credentials, "
        f"{EXIT_STACK_LOCKED} stack locked"
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command for each stack; returns the process exit code."""
    args = parser().parse_args(argv)
    if args.command == BOOTSTRAP:
        return bootstrap(args)
    try:
        jobs = prepare(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    worst = EXIT_OK
    for job in jobs:
        code = _run_one(args, job)
        worst = worst or code
        if code not in (EXIT_OK, EXIT_INVALID_SPEC):
            return code  # no point continuing without the CLI, credentials or a lock
    return worst


if __name__ == "__main__":
    sys.exit(main())
