"""One tick of a source sensor: page through each stream's new source runs, register them, request their runs.

The sensor's cursor is JSON `{"streams": {source id: that source's listing cursor}, "next": index, "layout":
digest}`. A tick lists at most `max_requests` source runs in all (Dagster resolves a tick's run requests in time
quadratic in their number), at most `max_pages` pages of `page_size` per stream, and reads no new page once
`time_budget_seconds` are spent; what is left is carried in the cursor, and the stream listed first rotates so a
long backlog in one stream does not starve the others. A listing that fails keeps that stream's cursor where the
last good page left it and becomes the tick's skip reason (or a warning, when other streams still request runs).

A source run is requested when its partition has never landed, or landed before the run's current version (a
payload file rewritten since). `run_key` = `<source id>/<partition key>` plus `:<fingerprint>` when the listing
knows the content, so the daemon never launches the same source run (or the same file content) twice.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from resources.payloads import BatchRef, PayloadSource, SourceError
from sophia_pipelines.partitions import invalid_key_reason, needing_landing
from sophia_pipelines.streams import StreamSpec

FINGERPRINT_CHARS = 16  # of the content hash in a run key


@dataclass(frozen=True, slots=True)
class TickSettings:
    page_size: int = 1000
    max_pages: int = 20  # per stream and tick
    max_requests: int = 2000  # source runs listed per tick, all streams together
    time_budget_seconds: float = 30.0  # no new page is read after this (Dagster times a sensor tick out at 60 s)


@dataclass
class StreamTick:
    """What one tick found for one stream."""

    refs: list[BatchRef] = field(default_factory=list)
    cursor: str | None = None
    pages: int = 0
    error: str | None = None


def run_key(stream: StreamSpec, ref: BatchRef) -> str:
    key = f"{stream.source}/{ref.key}"
    if ref.fingerprint:
        key += ":" + ref.fingerprint.split(":")[-1][:FINGERPRINT_CHARS]
    return key


def read_cursor(raw: str | None) -> dict[str, Any]:
    """The sensor's cursor as a dict; anything unreadable starts over (sources re-list, run keys dedupe)."""
    try:
        state = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        state = {}
    if not isinstance(state, dict) or not isinstance(state.get("streams", {}), dict):
        state = {}
    return {"streams": dict(state.get("streams", {})), "next": int(state.get("next", 0)), "layout": state.get("layout")}


def list_new(
    source: PayloadSource,
    stream: StreamSpec,
    after: str | None,
    settings: TickSettings,
    budget: int,
    deadline: float,
    clock: Callable[[], float] = time.monotonic,
) -> StreamTick:
    """Pages of the stream's listing after `after`: at most `settings.max_pages`, `budget` source runs in all, and
    none started after `deadline` (the first page is always read)."""
    tick = StreamTick(cursor=after)
    while tick.pages < settings.max_pages and len(tick.refs) < budget and (tick.pages == 0 or clock() < deadline):
        try:
            limit = min(settings.page_size, budget - len(tick.refs))
            page = source.list_batches(stream.stream, tick.cursor, limit)
        except SourceError as exc:
            tick.error = str(exc)
            break
        tick.refs.extend(page.refs)
        tick.cursor = page.cursor
        tick.pages += 1
        if page.caught_up:
            break
    return tick


def evaluate(
    context: dg.SensorEvaluationContext,
    streams: Sequence[StreamSpec],
    sources: Mapping[str, PayloadSource],
    settings: TickSettings,
    layout: Callable[[], list[str]] | None = None,
) -> dg.SensorResult:
    """The tick's run requests, new partitions and cursor (`layout`: the samples layout warnings, logged on change)."""
    state = read_cursor(context.cursor)
    deadline = time.monotonic() + settings.time_budget_seconds
    requests: list[dg.RunRequest] = []
    partitions: list[dg.AddDynamicPartitionsRequest] = []
    errors: list[str] = []
    first = state["next"] % len(streams)
    state["next"] = (first + 1) % len(streams)
    listed = 0
    for stream in [*streams[first:], *streams[:first]]:
        if listed >= settings.max_requests:
            break
        after = state["streams"].get(stream.source)
        budget = settings.max_requests - listed
        tick = list_new(sources[stream.system], stream, after, settings, budget, deadline)
        listed += len(tick.refs)
        state["streams"][stream.source] = tick.cursor
        if tick.error:
            errors.append(tick.error)
        refs = _valid(context, stream, tick.refs)
        if not refs:
            continue
        todo = needing_landing(context.instance, stream, refs)
        existing = set(context.instance.get_dynamic_partitions(stream.partitions_name))
        new_keys = [r.key for r in refs if r.key not in existing]
        if new_keys:
            partitions.append(dg.AddDynamicPartitionsRequest(stream.partitions_name, new_keys))
        requests += [
            dg.RunRequest(run_key=run_key(stream, r), job_name=stream.land_job_name, partition_key=r.key) for r in todo
        ]
        context.log.info(
            f"{stream.source}: {len(refs)} source runs listed in {tick.pages} pages, "
            f"{len(new_keys)} new partitions, {len(todo)} to land"
        )
    if layout is not None:
        state["layout"] = _report_layout(context, layout(), state["layout"])
    cursor = json.dumps(state, separators=(",", ":"), sort_keys=True)
    if errors and not requests:
        return dg.SensorResult(
            skip_reason="; ".join(errors), cursor=cursor, dynamic_partitions_requests=partitions or None
        )
    for error in errors:
        context.log.warning(f"listing failed, will retry from the same position: {error}")
    if not requests and not partitions:
        return dg.SensorResult(skip_reason="no new source runs", cursor=cursor)
    return dg.SensorResult(run_requests=requests, dynamic_partitions_requests=partitions or None, cursor=cursor)


def _valid(context: dg.SensorEvaluationContext, stream: StreamSpec, refs: list[BatchRef]) -> list[BatchRef]:
    """One ref per key (the last listed), without keys Dagster cannot hold (logged)."""
    unique: dict[str, BatchRef] = {}
    for ref in refs:
        reason = invalid_key_reason(ref.key)
        if reason:
            context.log.warning(f"{stream.source}: source run {ref.key!r} skipped: {reason}")
        else:
            unique[ref.key] = ref
    return list(unique.values())


def _report_layout(context: dg.SensorEvaluationContext, warnings: list[str], last: str | None) -> str:
    """Log the layout warnings when they differ from the last tick's (by digest); the new digest."""
    digest = hashlib.sha256("\n".join(warnings).encode("utf-8")).hexdigest()[:16]
    if digest != last:
        for message in warnings:
            context.log.warning(f"samples layout: {message}")
    return digest
