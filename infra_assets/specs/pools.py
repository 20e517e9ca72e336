"""What every node pool shares (the GPU pool and the CPU node pools): the node-count rule and the node labels."""

from __future__ import annotations

WORKLOAD_TYPE_LABEL = "workload-type"  # node label: which workloads a pool's nodes run (e.g. data-intelligence)
COMPONENT_LABEL = "sophia-component"  # node label: the platform component they serve (e.g. data-services)
LAMBDA_REGION = "us-east-1"  # where every pool and the k3s server run (one region: one private network)
SSH_KEY_NAMES = ("sophia-ops",)  # the SSH key registered in the Lambda account, put on every instance


class NodeCountError(ValueError):
    """A requested node count outside a pool's allowed range (refused before anything is rendered)."""


def check_node_count(nodes: int, *, pool: str, min_nodes: int, max_nodes: int) -> int:
    """`nodes` when `pool` may run that many, else `NodeCountError` naming the allowed range."""
    if isinstance(nodes, bool) or not isinstance(nodes, int) or not min_nodes <= nodes <= max_nodes:
        raise NodeCountError(
            f"desired_nodes {nodes!r} is out of range for {pool}: allowed {min_nodes}..{max_nodes} node(s)"
        )
    return nodes
