"""Step-level retries for assets that call networks: the second line behind each client's own retries.

A client retries a transient fault within seconds to minutes (resources/http_retry.py); when a fault outlasts that,
the step fails and Dagster runs it again after `delay` (doubling). Work already finished is kept by the stages
(ledgers, fingerprints), so a retried step only does the rest. Permanent faults raise a
`dg.Failure(allow_retries=False)` (resources.http_retry.PermanentError), which skips these retries.
"""

from __future__ import annotations

import dagster as dg

from resources.http_retry import delay_scale

NETWORK_MAX_RETRIES = 2
NETWORK_RETRY_DELAY_SECONDS = 5.0


def network_retry_policy() -> dg.RetryPolicy:
    """Two retries, 5 s then 10 s (± jitter), times `SOPHIA_RETRY_DELAY_SCALE` (read when assets are built)."""
    return dg.RetryPolicy(
        max_retries=NETWORK_MAX_RETRIES,
        delay=NETWORK_RETRY_DELAY_SECONDS * delay_scale(),
        backoff=dg.Backoff.EXPONENTIAL,
        jitter=dg.Jitter.PLUS_MINUS,
    )
