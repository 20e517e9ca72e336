"""Deterministic sample payloads shaped exactly like the Apify, PhantomBuster and Tavily APIs.

`write_samples(root)` writes the local-mode layout read by `resources.payloads.SamplePayloadSource`:

    apify/website-content-crawler/<run-id>.json           JSON array of dataset items
    apify/linkedin-profile-scraper/<run-id>.json          JSON array of dataset items
    phantombuster/linkedin-search-export/<container>.json the agent's result array
    tavily/<query-slug>.json                              one full /search response

Texts are built from topic sentence pools (AI infrastructure, data engineering, vector search, GPU clouds,
MLOps, sales prospects), one topic per document. With `messy=True` the payloads also carry the mess real
scrapers produce (duplicates across runs, nulls, HTML, non-ASCII, very long pages, empty texts, wrong types,
items that are not objects); with `messy=False` every record is valid. Output is byte-stable for a seed.

Regenerate the bundled samples: `python -m sophia_pipelines.sample_factory --out sophia_pipelines/samples`.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import random
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from resources.payloads import SamplePayloadSource
from resources.tavily import slugify
from sophia_pipelines.domain.documents import (
    APIFY_LINKEDIN_PROFILES,
    APIFY_WEBSITE_CONTENT,
    PHANTOMBUSTER_LINKEDIN_SEARCH,
    TAVILY_SEARCH,
    RawRecord,
)
from sophia_pipelines.stages.raw import raw_record_id

DEFAULT_DOCUMENTS = 400
STREAM_DIRS = {
    APIFY_WEBSITE_CONTENT: Path("apify/website-content-crawler"),
    APIFY_LINKEDIN_PROFILES: Path("apify/linkedin-profile-scraper"),
    PHANTOMBUSTER_LINKEDIN_SEARCH: Path("phantombuster/linkedin-search-export"),
    TAVILY_SEARCH: Path("tavily"),
}
STREAM_SHARES = {
    APIFY_WEBSITE_CONTENT: 0.35,
    APIFY_LINKEDIN_PROFILES: 0.20,
    PHANTOMBUSTER_LINKEDIN_SEARCH: 0.25,
    TAVILY_SEARCH: 0.20,
}
ITEMS_PER_RUN = 250
RESULTS_PER_SEARCH = 10
LONG_DOC_CHARS = 52_000
BASE_TIME = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Topic:
    slug: str
    name: str
    query: str
    skills: tuple[str, ...]
    titles: tuple[str, ...]
    sentences: tuple[str, ...]


# --- corpus --------------------------------------------------------------------------------------------

TOPICS: tuple[Topic, ...] = (
    Topic(
        "gpu-pricing",
        "GPU cloud pricing",
        "AI infrastructure GPU pricing",
        ("GPU Cloud", "Capacity Planning", "Cloud Pricing", "Procurement"),
        (
            "{gpu} pricing in {year}: on-demand vs reserved capacity",
            "How {company} cut GPU spend by {pct}% with reserved {gpu} capacity",
            "Comparing {gpu} hourly rates across {cloud} and specialist GPU clouds",
        ),
        (
            "On-demand {gpu} instances on {cloud} list at about ${price} per GPU-hour, while one-year "
            "reservations bring the effective rate down by roughly {pct}%.",
            "Specialist GPU clouds undercut the hyperscalers on {gpu} list prices, but egress fees and "
            "minimum commitments can erase the difference.",
            "Spot and preemptible {gpu} capacity is the cheapest of all, yet training jobs need frequent "
            "checkpoints to survive interruptions.",
            "{company} models its GPU budget as cost per million training tokens rather than cost per hour, "
            "which makes providers directly comparable.",
            "Reserved clusters only pay off when utilization stays above {pct}% for the full contract term.",
            "The price per GPU-hour hides idle time: a node waiting on a slow data loader still bills at the "
            "full rate.",
            "Buying capacity in {region} was noticeably cheaper than the default region, at the cost of "
            "slightly higher latency to the data lake.",
            "A blended strategy of reserved baseline capacity plus on-demand burst capacity kept the monthly "
            "GPU invoice predictable.",
            "Sophia AI tracks {gpu} and {gpu2} list prices every week so account teams can quote realistic "
            "infrastructure budgets.",
        ),
    ),
    Topic(
        "gpu-scheduling",
        "Kubernetes GPU scheduling",
        "Kubernetes GPU scheduling MIG time-slicing",
        ("Kubernetes", "GPU Scheduling", "Kueue", "Platform Engineering"),
        (
            "Scheduling {gpu} workloads on Kubernetes without idle accelerators",
            "GPU node pools, taints and gang scheduling: lessons from {company}",
            "Time-slicing vs MIG: sharing {gpu} GPUs across {n} teams",
        ),
        (
            "The NVIDIA device plugin exposes each {gpu} as an extended resource, so pods request GPUs "
            "through nvidia.com/gpu limits.",
            "Multi-Instance GPU partitioning splits one {gpu} into up to seven isolated slices for small "
            "inference workloads.",
            "Gang scheduling with Kueue or Volcano starts a distributed training job only when all {nodes} "
            "workers can be placed at once.",
            "Taints on the GPU node pool keep CPU-only workloads from occupying expensive accelerator nodes.",
            "{company} raised cluster GPU utilization from {pct2}% to {pct}% by bin-packing notebooks onto "
            "time-sliced GPUs.",
            "Topology-aware scheduling places the workers of one job on nodes that share an NVLink domain or "
            "an InfiniBand leaf switch.",
            "Autoscaling a GPU node group takes minutes, so queued jobs need priority classes and preemption rules.",
            "Node feature discovery labels each machine with its GPU model and driver version, which lets "
            "the scheduler match CUDA requirements.",
        ),
    ),
    Topic(
        "llm-inference",
        "LLM inference serving",
        "LLM inference serving vLLM continuous batching",
        ("vLLM", "LLM Inference", "CUDA", "Triton Inference Server"),
        (
            "Serving a {size}B model at {tps} tokens per second with vLLM",
            "Cutting time to first token for {company}'s chat assistant",
            "Continuous batching and KV-cache paging explained",
        ),
        (
            "Continuous batching in vLLM keeps the {gpu} busy by adding new requests to the running batch "
            "between decoding steps.",
            "PagedAttention stores the KV cache in fixed-size blocks, which cut memory fragmentation and "
            "raised throughput by {pct}%.",
            "Time to first token and inter-token latency matter more to chat users than aggregate tokens per second.",
            "{company} serves a {size}B-parameter model on {nodes} GPUs with tensor parallelism and reaches "
            "{tps} tokens per second per replica.",
            "Speculative decoding uses a small draft model to propose tokens that the large model verifies "
            "in a single forward pass.",
            "Prefix caching avoids recomputing the shared system prompt for every request in a chat application.",
            "Autoscaling inference replicas on queue depth rather than CPU utilization prevents latency "
            "spikes during traffic bursts.",
            "FP8 weights on {gpu} hardware halve memory use with a quality loss that was not measurable on "
            "the evaluation set.",
        ),
    ),
    Topic(
        "fine-tuning",
        "LoRA fine-tuning",
        "LoRA fine-tuning open source LLM single GPU",
        ("LoRA", "Fine-Tuning", "PyTorch", "Hugging Face Transformers"),
        (
            "Fine-tuning a {size}B model with LoRA on one {gpu}",
            "What {company} learned from {n} fine-tuning runs",
            "QLoRA vs full fine-tuning: cost and quality",
        ),
        (
            "Low-rank adaptation trains small adapter matrices instead of all weights, so a {size}B model "
            "fits on a single {gpu}.",
            "QLoRA quantizes the frozen base model to 4 bits and trains the adapters in bfloat16.",
            "{company} fine-tuned on {n} curated support tickets and improved answer acceptance by {pct}% "
            "over the base model.",
            "A held-out evaluation set written by domain experts caught regressions that the training loss "
            "never showed.",
            "Learning rates between 1e-4 and 2e-4 with an adapter rank of 16 were the most stable settings "
            "in the sweeps.",
            "Merging the adapter into the base weights before deployment removes the latency of a separate "
            "adapter path.",
            "Deduplicating the instruction data mattered more than adding more examples of the same pattern.",
            "Serving many LoRA adapters on one base model gives each customer a tailored model without a "
            "dedicated GPU.",
        ),
    ),
    Topic(
        "vector-search",
        "Vector search and ANN indexes",
        "HNSW vs IVF vector index recall latency",
        ("Vector Databases", "Approximate Nearest Neighbor Search", "HNSW", "Information Retrieval"),
        (
            "HNSW vs IVF-PQ for {n} million vectors",
            "Tuning approximate nearest neighbour search at {company}",
            "When brute-force vector search is good enough",
        ),
        (
            "HNSW graphs give high recall at low latency but keep the whole index in memory, which drives "
            "the instance size.",
            "IVF-PQ compresses vectors into short product-quantized codes so a billion-vector index fits on "
            "a handful of nodes.",
            "{company} measured recall@10 of 0.{recall} at {ms} ms p95 with ef_search set to {ef} on {n} "
            "million vectors.",
            "Tuning ef_construction and M trades indexing time for recall; the defaults are rarely right for "
            "production data.",
            "Filtered vector search must apply the metadata filter during graph traversal, otherwise "
            "selective filters return too few neighbours.",
            "Cosine similarity on normalized embeddings equals the dot product, which lets the database use "
            "faster kernels.",
            "{db} and pgvector were both evaluated; the decision came down to operational simplicity rather "
            "than raw latency.",
            "Brute-force search is still the right answer below a few hundred thousand vectors: exact, "
            "simple and fast enough.",
        ),
    ),
    Topic(
        "hybrid-search",
        "Hybrid retrieval and reranking",
        "hybrid search BM25 dense retrieval reranking",
        ("Elasticsearch", "BM25", "Learning to Rank", "Search Relevance"),
        (
            "Hybrid search: combining BM25 keyword scores with dense vectors",
            "Adding a cross-encoder reranker to {company}'s support search",
            "Reciprocal rank fusion in practice",
        ),
        (
            "BM25 still wins on exact identifiers such as part numbers, error codes and product SKUs that "
            "embeddings blur together.",
            "Reciprocal rank fusion merges the keyword and dense result lists without calibrating their scores.",
            "A cross-encoder reranker over the top {n} candidates raised answer accuracy by {pct}% for "
            "{company}'s support search.",
            "Query rewriting expands abbreviations before retrieval so that 'k8s' also matches documents "
            "about Kubernetes.",
            "Sparse learned representations such as SPLADE sit between BM25 and dense vectors in both cost "
            "and quality.",
            "Relevance was measured as nDCG@10 on {n} labelled queries sampled from real search logs.",
            "Reranking adds about {ms} ms per query, so it runs only when the first-stage scores are close.",
        ),
    ),
    Topic(
        "embeddings",
        "Embedding models",
        "choosing multilingual embedding model dimensions",
        ("Embeddings", "Sentence Transformers", "NLP", "Semantic Search"),
        (
            "Choosing an embedding model for multilingual search",
            "How {company} versions embeddings and re-embeds safely",
            "Embedding dimensions, storage and cost at {n} million documents",
        ),
        (
            "Embedding dimension drives storage linearly: {dim} dimensions in float32 take {bytes} bytes per vector.",
            "Matryoshka embeddings can be truncated to fewer dimensions with a small, predictable loss in "
            "retrieval quality.",
            "Re-embedding the corpus is unavoidable when the model changes, so vectors are versioned "
            "together with the model name.",
            "{company} benchmarked {nodes} open embedding models on its own queries instead of trusting "
            "public leaderboards.",
            "Multilingual embedding models map French, German and Japanese queries into the same space as "
            "English documents.",
            "Normalizing vectors to unit length at write time keeps similarity scores comparable across batches.",
            "Batching embedding requests to 32 texts per call kept the inference server under its payload limit.",
        ),
    ),
    Topic(
        "rag-chunking",
        "Chunking for retrieval-augmented generation",
        "RAG chunking strategy overlap paragraph boundaries",
        ("Retrieval-Augmented Generation", "LangChain", "LlamaIndex", "Prompt Engineering"),
        (
            "Chunking strategies for retrieval-augmented generation",
            "Why {company}'s RAG answers improved after re-chunking",
            "Paragraph-aware chunking with {pct2}% overlap",
        ),
        (
            "Chunks that follow paragraph and heading boundaries retrieve better than fixed windows that cut "
            "sentences in half.",
            "An overlap of about {pct2}% between consecutive chunks keeps context that straddles a boundary "
            "retrievable.",
            "{company}'s assistant cites the source chunk for every answer, which made hallucinations easy "
            "to spot in review.",
            "Very long documents are split into chunks of roughly {n} tokens, and each chunk carries the "
            "document title as context.",
            "Retrieval-augmented generation fails quietly when the right chunk is ranked eleventh and the "
            "prompt only takes ten.",
            "Content hashes let the pipeline skip re-chunking and re-embedding documents whose text has not changed.",
            "Parent-document retrieval matches on small chunks but passes the surrounding section to the "
            "language model.",
        ),
    ),
    Topic(
        "data-quality",
        "Data contracts and data quality",
        "data contracts quarantine tables data quality checks",
        ("Data Quality", "Data Contracts", "dbt", "Great Expectations"),
        (
            "Data contracts that producers actually follow",
            "Quarantine tables: keeping bad records out of {company}'s warehouse",
            "Freshness and volume checks for {n} source tables",
        ),
        (
            "A data contract states the schema, freshness and ownership of a dataset so producers cannot "
            "break consumers silently.",
            "Records that fail validation go to a quarantine table with a reason instead of failing the whole load.",
            "{company} alerts when a source table is more than {hours} hours stale, measured from the latest "
            "loaded timestamp.",
            "Row-count checks against the previous load catch truncated extracts before they reach dashboards.",
            "Null-rate thresholds on key columns flagged a vendor API change within a single run.",
            "Asset checks run right after materialization, so a bad partition is blocked before downstream "
            "jobs consume it.",
            "Deduplication on a stable business key made reloads idempotent and kept double counts out of "
            "the warehouse.",
        ),
    ),
    Topic(
        "orchestration",
        "Asset-based orchestration with Dagster",
        "Dagster software-defined assets partitions sensors",
        ("Dagster", "Apache Airflow", "Data Orchestration", "Python"),
        (
            "From {n} cron jobs to software-defined assets",
            "Backfilling {days} days of partitions with Dagster",
            "Sensors, schedules and declarative automation at {company}",
        ),
        (
            "Software-defined assets describe what data should exist, and the orchestrator works out which "
            "steps to run.",
            "Partitioning by day lets the team backfill {days} days of history without touching recent data.",
            "Sensors watch object storage for new files and launch a run only for the partitions that changed.",
            "{company} replaced {n} cron jobs with an asset graph that shows lineage from raw API payloads to "
            "embeddings.",
            "Declarative automation materializes an asset when its upstream data is newer, so schedules stay simple.",
            "Resources hide whether the code talks to a real API or a local stand-in, which keeps tests fast.",
            "Run retries with exponential backoff absorb flaky third-party APIs without paging anyone at night.",
        ),
    ),
    Topic(
        "warehouse-cost",
        "Snowflake cost control",
        "Snowflake credits cost optimization warehouse sizing",
        ("Snowflake", "SQL", "Data Warehousing", "Cost Optimization"),
        (
            "Cutting Snowflake credits by {pct}% at {company}",
            "Warehouse sizing and auto-suspend settings that pay off",
            "Loading raw JSON into VARIANT columns",
        ),
        (
            "Auto-suspend after 60 seconds stopped warehouses from burning credits while nobody was querying.",
            "Right-sizing the transformation warehouse from Large to Medium cut credits by {pct}% with "
            "little change in runtime.",
            "{company} tags every query with the dbt model or Dagster asset that issued it, so warehouse "
            "cost is attributable.",
            "MERGE statements on a clustered key touch fewer micro-partitions than delete-and-insert reloads.",
            "Resource monitors cap monthly credit usage and notify the data platform team at {pct}% of quota.",
            "Semi-structured payloads land in VARIANT columns and are flattened downstream with LATERAL FLATTEN.",
            "Query acceleration helped only the ad hoc workloads with large scans; scheduled jobs did not benefit.",
        ),
    ),
    Topic(
        "lakehouse",
        "Iceberg lakehouse",
        "Apache Iceberg lakehouse compaction snapshots",
        ("Apache Iceberg", "Apache Spark", "Trino", "Parquet"),
        (
            "Moving {company}'s event data to Apache Iceberg",
            "Compaction and snapshot expiry for Iceberg tables",
            "One lakehouse, many engines: Spark, Trino and DuckDB",
        ),
        (
            "Apache Iceberg tables keep snapshots, so a bad write can be rolled back without restoring a backup.",
            "Small files from streaming ingestion are compacted every night into files of about 512 MB.",
            "Hidden partitioning by day on the event timestamp lets analysts filter without knowing the "
            "partition layout.",
            "{company} queries the same Iceberg tables from Spark, Trino and DuckDB without copying data.",
            "Schema evolution added columns without rewriting the {n} TB of existing Parquet files.",
            "Expiring old snapshots and orphan files kept object storage costs from growing {pct2}% per quarter.",
        ),
    ),
    Topic(
        "cdc-streaming",
        "Change data capture and streaming",
        "change data capture Debezium Kafka warehouse",
        ("Apache Kafka", "Debezium", "Stream Processing", "PostgreSQL"),
        (
            "Change data capture from Postgres with Debezium",
            "Streaming {n}k events per second into {company}'s warehouse",
            "Consumer lag as the key pipeline metric",
        ),
        (
            "Debezium reads the Postgres write-ahead log and publishes every row change to a Kafka topic.",
            "Exactly-once delivery into the warehouse depends on idempotent upserts keyed on the primary key "
            "and log position.",
            "{company} streams {n} thousand change events per second from its order database with sub-minute lag.",
            "Schema registry compatibility rules rejected a producer change that would have broken "
            "downstream consumers.",
            "Backfilling a new consumer from a snapshot and then switching to the log avoided a gap in the data.",
            "Consumer lag is the single metric that tells the on-call engineer whether the pipeline keeps up.",
        ),
    ),
    Topic(
        "ml-monitoring",
        "Model monitoring and drift",
        "ML model monitoring drift detection production",
        ("MLOps", "Model Monitoring", "Feature Stores", "Machine Learning"),
        (
            "Detecting model drift before accuracy drops",
            "Shadow deployments for {company}'s fraud model",
            "Training-serving skew and how a feature store prevents it",
        ),
        (
            "Feature drift is measured every day with the population stability index against the training "
            "distribution.",
            "Prediction drift often shows up before accuracy drops, because labels arrive weeks later.",
            "{company}'s fraud model lost {pct2}% precision when a payment provider changed its merchant codes.",
            "A shadow deployment scores live traffic with the candidate model without affecting users.",
            "Feature stores guarantee that training and serving compute features with the same code, preventing skew.",
            "Alerts fire on data quality problems in model inputs, not just on the output metrics.",
        ),
    ),
    Topic(
        "experiment-tracking",
        "Experiment tracking and reproducibility",
        "MLflow experiment tracking model registry reproducibility",
        ("MLflow", "Weights & Biases", "Experiment Tracking", "Model Registry"),
        (
            "Reproducible training runs with MLflow",
            "A model registry with evaluation gates at {company}",
            "Hyperparameter sweeps over {n} configurations on preemptible GPUs",
        ),
        (
            "Every training run logs its code commit, data snapshot, hyperparameters and metrics to the "
            "tracking server.",
            "A model registry promotes versions from staging to production only after evaluation gates pass.",
            "{company} reproduced a six-month-old model bit for bit because the dataset version was pinned.",
            "Sweeps over {n} hyperparameter combinations ran on preemptible GPUs and resumed from checkpoints.",
            "Comparing runs side by side made it obvious that learning-rate warmup, not the architecture, "
            "drove the gain.",
        ),
    ),
    Topic(
        "compliance",
        "Security, PII and data residency",
        "PII redaction GDPR data residency AI workloads",
        ("GDPR", "SOC 2", "Data Privacy", "Information Security"),
        (
            "PII redaction before embedding",
            "Data residency for AI workloads in the EU",
            "What SOC 2 auditors ask {company}'s data team",
        ),
        (
            "Personal data is redacted before text is embedded, because vectors can leak the content they encode.",
            "SOC 2 Type II auditors asked for evidence that access to production data is reviewed every quarter.",
            "EU customer data stays in {region_eu}, which rules out some GPU providers for fine-tuning jobs.",
            "{company} encrypts payloads at rest with customer-managed keys and rotates them every {days} days.",
            "Retention policies delete raw scraped payloads after {days} days while keeping the derived aggregates.",
            "Prospect data collected from public profiles still falls under GDPR and needs a documented "
            "legitimate interest.",
        ),
    ),
    Topic(
        "llm-observability",
        "LLM observability and evaluation",
        "LLM observability tracing evaluation OpenTelemetry",
        ("OpenTelemetry", "LLM Evaluation", "Observability", "Prompt Engineering"),
        (
            "Tracing LLM applications with OpenTelemetry",
            "An evaluation suite of {n} questions for every prompt change",
            "Where {company}'s LLM tokens go",
        ),
        (
            "Traces capture the prompt, retrieved documents, model response and latency of every request.",
            "OpenTelemetry spans tie each LLM call back to the user request that triggered it.",
            "{company} runs an evaluation suite of {n} questions against every prompt change before it ships.",
            "Model-graded evaluations are cheap but need periodic calibration against human judgements.",
            "Token usage per feature showed that one summarization endpoint drove {pct}% of the bill.",
            "Regression tests for prompts catch formatting changes that break downstream parsers.",
        ),
    ),
    Topic(
        "finops",
        "Cloud FinOps for AI teams",
        "FinOps cloud cost allocation machine learning teams",
        ("FinOps", "Cloud Cost Management", "AWS", "Budgeting"),
        (
            "FinOps for machine learning teams",
            "Finding the idle GPUs in {company}'s cloud bill",
            "Committed-use discounts without regret",
        ),
        (
            "Cost allocation tags on every GPU node let finance charge spend back to the team that ran the job.",
            "Unused persistent disks and idle notebooks accounted for {pct2}% of last quarter's cloud bill.",
            "{company} set budgets per project with alerts at 50, 80 and 100 percent of the monthly limit.",
            "Committed-use discounts were sized from the lowest sustained usage, never from the peak.",
            "Showback dashboards changed engineering behaviour faster than any policy document did.",
        ),
    ),
    Topic(
        "training-infra",
        "Distributed training infrastructure",
        "distributed training InfiniBand NVLink checkpointing",
        ("Distributed Training", "InfiniBand", "NCCL", "High Performance Computing"),
        (
            "Networking for multi-node training: InfiniBand and NVLink",
            "Checkpointing a {size}B model without stalling training",
            "Raising model FLOPs utilization on {nodes} {gpu} nodes",
        ),
        (
            "InfiniBand at 400 Gb/s per GPU keeps all-reduce from dominating step time on multi-node jobs.",
            "NVLink connects the eight GPUs inside a node, while the InfiniBand fabric connects the nodes.",
            "Checkpoints of a {size}B model are written asynchronously to object storage every {mins} minutes.",
            "{company} measured {pct}% model FLOPs utilization after overlapping communication with computation.",
            "A single slow node drags down the whole job, so health checks drain nodes with degraded GPUs.",
            "Fully sharded data parallelism spreads optimizer state across workers to fit larger models.",
        ),
    ),
    Topic(
        "lead-enrichment",
        "Web scraping and lead enrichment",
        "lead enrichment pipeline Apify PhantomBuster",
        ("Web Scraping", "Apify", "PhantomBuster", "Sales Operations"),
        (
            "Building a lead enrichment pipeline on Apify and PhantomBuster",
            "Replayable scraping: store raw payloads first",
            "Deduplicating prospects across {n} scraper runs",
        ),
        (
            "Apify actors crawl company websites and return clean text for every page, ready for embedding.",
            "PhantomBuster exports LinkedIn search results as rows with name, job title, company and location.",
            "{company}'s sales team enriches {n} new accounts a week with firmographics scraped from public pages.",
            "Scraped payloads are stored untouched first, so normalization bugs can be fixed by replaying "
            "the raw data.",
            "Rate limits and login walls mean every scraper run can return partial results, which the "
            "pipeline must tolerate.",
            "Deduplicating prospects by profile URL stopped the same person from entering the CRM three times.",
        ),
    ),
    Topic(
        "sales-prospecting",
        "Selling AI infrastructure",
        "selling AI infrastructure ML platform buyer personas",
        ("B2B Sales", "Enterprise Sales", "Outbound Prospecting", "Solution Selling"),
        (
            "Who buys AI infrastructure? Personas for Sophia AI's sales team",
            "Outbound that works for technical buyers",
            "Running discovery calls with ML platform leaders",
        ),
        (
            "The ideal customer profile for Sophia AI is a company with {n} or more engineers running its "
            "own GPU workloads.",
            "Heads of ML platform care about GPU utilization and queue times; CFOs care about predictable "
            "monthly spend.",
            "{company} entered the sales pipeline after its VP of Engineering asked about on-premises inference.",
            "Outbound messages that referenced a prospect's public engineering blog had a {pct2}% reply rate.",
            "Discovery calls start with the current stack: which cloud, which orchestrator, which vector database.",
            "Champions inside data teams need a business case that translates latency gains into revenue.",
        ),
    ),
    Topic(
        "sophia-product",
        "Sophia AI platform",
        "Sophia AI platform release hybrid search namespaces",
        ("Product Management", "SaaS", "Developer Relations", "Technical Writing"),
        (
            "Sophia AI release notes: hybrid search and tenant namespaces",
            "Sophia AI now runs in your own Kubernetes cluster",
            "Sophia AI pricing explained",
        ),
        (
            "Sophia AI's platform connects scraped web content, CRM data and product documentation in one "
            "searchable index.",
            "The release adds hybrid search with reranking and per-tenant namespaces in the vector store.",
            "Customers in {region} can now run Sophia AI's ingestion workers in their own Kubernetes cluster.",
            "Sophia AI's pipelines are defined as Dagster assets and load into Snowflake or DuckDB.",
            "Pricing is per indexed document with unlimited queries, and the first {n} thousand documents are free.",
            "The ingestion connectors support Apify, PhantomBuster and Tavily out of the box.",
        ),
    ),
    Topic(
        "quantization",
        "Quantization and efficient inference",
        "INT8 FP8 quantization LLM edge inference",
        ("Model Compression", "Quantization", "TensorRT", "Edge AI"),
        (
            "INT8 and FP8 inference on {gpu}",
            "Distilling a {size}B model for edge deployment at {company}",
            "Quantization without surprises",
        ),
        (
            "INT8 weight-only quantization halved memory with less than one point of accuracy loss.",
            "FP8 inference on {gpu} relies on the transformer engine to keep activations in range.",
            "Distilling a {size}B teacher into a {small}B student kept most of the quality at a fraction of the cost.",
            "{company} runs quantized models on {gpu2} cards at the edge to keep latency under {ms} ms.",
            "GPTQ and AWQ calibrate quantization on a small sample of real prompts.",
            "Quantization hurts most on arithmetic and code generation, so evaluation must include those tasks.",
        ),
    ),
    Topic(
        "llm-agents",
        "LLM agents and tool calling",
        "LLM agents tool calling guardrails evaluation",
        ("LLM Agents", "Function Calling", "Python", "Workflow Automation"),
        (
            "Designing reliable tool-calling agents",
            "A research agent for {company}'s account executives",
            "Step budgets and guardrails for LLM agents",
        ),
        (
            "Tool calling lets the model request a function with JSON arguments that the application "
            "validates before running it.",
            "Agents that plan over many steps accumulate errors, so each step's output is checked against a schema.",
            "{company}'s research agent searches the web, reads pages and writes a cited summary for account "
            "executives.",
            "Timeouts and step budgets prevent runaway agent loops from burning tokens.",
            "Evaluating agents needs task-level success metrics, not just per-call accuracy.",
            "Human approval is required before an agent sends an email or changes a CRM record.",
        ),
    ),
)
TOPIC_BY_SLUG = {topic.slug: topic for topic in TOPICS}

GLUE = (
    "The rollout took {weeks} weeks and required no downtime.",
    "The team published the numbers internally before making any decision.",
    "Most of the effort went into measurement, not into the change itself.",
    "The same approach is now the default for every new project.",
    "None of this required new hardware, only better defaults.",
)

# Non-English pages (and their topics): accents, CJK and emoji exercise Unicode handling end to end.
FOREIGN_PAGES: tuple[tuple[str, str, str, str], ...] = (
    (
        "fr",
        "gpu-pricing",
        "Tarification des GPU {gpu} : réservé ou à la demande ?",
        "Les instances {gpu} à la demande coûtent environ {price} $ par heure et par GPU. Une réservation "
        "d'un an réduit ce tarif d'environ {pct} %.\n\nLes clouds spécialisés sont souvent moins chers que "
        "les hyperscalers, mais les frais de sortie et les engagements minimaux peuvent effacer l'écart. "
        "Chez {company}, le budget GPU est exprimé en coût par million de jetons d'entraînement.",
    ),
    (
        "de",
        "data-quality",
        "Datenverträge und Quarantänetabellen in der Praxis",
        "Ein Datenvertrag legt Schema, Aktualität und Verantwortlichkeit eines Datensatzes fest. Fehlerhafte "
        "Datensätze landen mit Begründung in einer Quarantänetabelle, statt den gesamten Ladevorgang "
        "abzubrechen.\n\n{company} prüft nach jedem Lauf die Zeilenanzahl und die Null-Quote der "
        "Schlüsselspalten. Größere Abweichungen lösen sofort eine Warnung für das Datenteam aus.",
    ),
    (
        "ja",
        "vector-search",
        "ベクトル検索のためのHNSWインデックス調整",
        "HNSWグラフは高い再現率と低いレイテンシを実現しますが、インデックス全体をメモリに保持する必要があります。"
        "ef_searchを{ef}に設定すると、{n}百万件のベクトルでrecall@10が0.{recall}に達しました。\n\n"
        "{company}では、メタデータフィルタをグラフ探索中に適用することで、絞り込み検索の結果不足を解消しました。",
    ),
    (
        "zh",
        "llm-inference",
        "大语言模型推理服务：连续批处理与KV缓存",  # noqa: RUF001
        "vLLM的连续批处理在每个解码步骤之间加入新请求，使{gpu}始终保持忙碌。PagedAttention以固定大小的块存储KV缓存，"  # noqa: RUF001
        "吞吐量提高了{pct}%。\n\n{company}使用张量并行在{nodes}块GPU上部署{size}B参数模型，每个副本每秒生成{tps}个词元。",  # noqa: RUF001
    ),
    (
        "es",
        "sales-prospecting",
        "Cómo vender infraestructura de IA a equipos de datos 🚀",
        "El cliente ideal de Sophia AI es una empresa con {n} o más ingenieros que gestiona sus propias cargas "
        "de trabajo en GPU. Los responsables de plataforma de ML se preocupan por la utilización de las GPU; "
        "los directores financieros, por un gasto mensual predecible.\n\nLas llamadas de descubrimiento "
        "empiezan por el stack actual: qué nube, qué orquestador y qué base de datos vectorial.",
    ),
)

GPUS = {"H100": (2.10, 4.50), "A100": (1.10, 2.40), "H200": (3.20, 5.50), "L40S": (0.80, 1.60),
        "B200": (4.50, 7.00), "MI300X": (2.40, 4.00)}  # fmt: skip
SMALL_GPUS = ("L4", "A10G", "T4", "RTX 6000 Ada", "Jetson Orin")
CLOUDS = ("AWS", "Google Cloud", "Azure", "Oracle Cloud")
REGIONS = ("us-east-1", "us-west-2", "eu-central-1", "europe-west4", "ap-northeast-1", "us-central1")
EU_REGIONS = ("eu-central-1 (Frankfurt)", "europe-west4 (Netherlands)", "francecentral (Paris)")
VECTOR_DBS = ("Pinecone", "Weaviate", "Qdrant", "Milvus", "Elasticsearch")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")  # fmt: skip

COMPANIES: tuple[tuple[str, str, str], ...] = (
    ("Northwind Robotics", "Robotics Engineering", "201-500"),
    ("Helix Genomics", "Biotechnology Research", "51-200"),
    ("Quantara Bank", "Banking", "5001-10000"),
    ("Lumen Logistics", "Transportation, Logistics, Supply Chain and Storage", "1001-5000"),
    ("Brightwave Energy", "Renewable Energy Power Generation", "501-1000"),
    ("Cobalt Health", "Hospitals and Health Care", "1001-5000"),
    ("Mariner Insurance", "Insurance", "5001-10000"),
    ("Atlas Retail Group", "Retail", "10001+"),
    ("Vireo Media", "Online Audio and Video Media", "201-500"),
    ("Kestrel Aerospace", "Aviation and Aerospace Component Manufacturing", "1001-5000"),
    ("Orchid Telecom", "Telecommunications", "5001-10000"),
    ("Tessellate Games", "Computer Games", "51-200"),
    ("Fjordline Shipping", "Maritime Transportation", "501-1000"),
    ("Sakura Mobility", "Motor Vehicle Manufacturing", "1001-5000"),
    ("Polaris Legal AI", "Legal Services", "11-50"),
    ("Meridian Pharma", "Pharmaceutical Manufacturing", "5001-10000"),
    ("Ironbark Security", "Computer and Network Security", "201-500"),
    ("Beacon Payments", "Financial Services", "501-1000"),
    ("Aurora Edtech", "E-Learning Providers", "51-200"),
    ("Cedar Manufacturing", "Industrial Machinery Manufacturing", "1001-5000"),
    ("Sophia AI", "Software Development", "51-200"),
)

FIRST_NAMES = ("Amelia", "Lucas", "Priya", "Mateo", "Sofia", "Noah", "Aisha", "Jonas", "Chloé", "Mohammed",
               "Yuki", "Elena", "Diego", "Hannah", "Kwame", "Zoë", "Søren", "Ana", "Léa", "Rafael", "Ingrid",
               "Tomás", "Fatima", "Oliver", "Arjun", "Nadia", "Björn", "Camille", "Emeka", "Łukasz", "Renée",
               "Grace", "Kenji", "Marta", "Thabo", "Ilse")  # fmt: skip
LAST_NAMES = ("García", "Müller", "Nakamura", "Okafor", "Johansson", "Dubois", "Rossi", "Kowalski", "Patel",
              "Smith", "Nguyen", "O'Brien", "Silva", "Andersen", "Fernández", "Schröder", "Haddad", "Kim",
              "Novák", "Ivanova", "Brennan", "Mensah", "Laurent", "Costa", "Dvořák", "Yılmaz", "Lindqvist",  # noqa: RUF001
              "Moreau", "Adeyemi", "Ferreira")  # fmt: skip
# (first, last, romanized first, romanized last) for names written in CJK scripts.
CJK_NAMES = (("伟", "李", "Wei", "Li"), ("芳", "王", "Fang", "Wang"), ("美咲", "田中", "Misaki", "Tanaka"),
             ("健", "佐藤", "Ken", "Sato"), ("민준", "김", "Minjun", "Kim"), ("静", "陈", "Jing", "Chen"))  # fmt: skip
LOCATIONS = (
    "Berlin, Germany", "Paris, Île-de-France, France", "München, Bayern, Germany", "São Paulo, Brazil",
    "Tokyo, Japan", "Zürich, Switzerland", "London, England, United Kingdom", "San Francisco, California, "
    "United States", "New York, New York, United States", "Bengaluru, Karnataka, India", "Lagos, Nigeria",
    "Stockholm, Sweden", "Kraków, Małopolskie, Poland", "Shanghai, China", "Seoul, South Korea",
    "Madrid, Community of Madrid, Spain", "Toronto, Ontario, Canada", "Amsterdam, North Holland, Netherlands",
)  # fmt: skip
SCHOOLS = ("Technical University of Munich", "ETH Zürich", "University of Toronto", "École Polytechnique",
           "Universidad Politécnica de Madrid", "The University of Tokyo", "IIT Bombay", "KTH Royal Institute "
           "of Technology", "University of Lagos", "Carnegie Mellon University", "Tsinghua University",
           "Politecnico di Milano")  # fmt: skip
DEGREES = ("Master of Science - MS, Computer Science", "Bachelor of Science - BS, Mathematics",
           "Doctor of Philosophy - PhD, Machine Learning", "Master of Engineering - MEng, Electrical "
           "Engineering", "Bachelor of Science - BS, Statistics", "MBA")  # fmt: skip

# Personas of the prospects (and a few Sophia AI employees) with the topics they talk about.
PERSONAS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Head of Data Platform", "data platform", ("data-quality", "orchestration", "warehouse-cost")),
    ("VP of Engineering, AI Infrastructure", "AI infrastructure", ("gpu-pricing", "gpu-scheduling", "finops")),
    ("ML Platform Lead", "ML platform", ("gpu-scheduling", "experiment-tracking", "ml-monitoring")),
    ("Staff Data Engineer", "data engineering", ("cdc-streaming", "lakehouse", "orchestration")),
    ("Director of Machine Learning", "machine learning", ("fine-tuning", "quantization", "llm-agents")),
    ("Search Relevance Engineer", "search", ("hybrid-search", "vector-search", "embeddings")),
    ("Principal Engineer, LLM Inference", "inference", ("llm-inference", "quantization", "training-infra")),
    ("Head of MLOps", "MLOps", ("ml-monitoring", "experiment-tracking", "llm-observability")),
    ("FinOps Lead", "cloud finance", ("finops", "gpu-pricing", "warehouse-cost")),
    ("Security Engineering Manager", "security", ("compliance", "llm-observability")),
    ("Applied AI Engineer", "applied AI", ("rag-chunking", "llm-agents", "embeddings")),
    ("Growth Operations Manager", "revenue operations", ("lead-enrichment", "sales-prospecting")),
)

SITES: tuple[tuple[str, str, str], ...] = (
    ("www.sophia-ai.com", "Sophia AI Blog", "blog"),
    ("docs.sophia-ai.com", "Sophia AI Docs", "guides"),
    ("engineering.northwind-robotics.com", "Northwind Robotics Engineering", "posts"),
    ("blog.helixgenomics.com", "Helix Genomics Tech Blog", "tech"),
    ("www.gpucloudreport.com", "GPU Cloud Report", "analysis"),
    ("www.dataengweekly.com", "Data Engineering Weekly", "articles"),
    ("blog.vectorlane.io", "VectorLane", "blog"),
    ("www.mlopsjournal.org", "The MLOps Journal", "2026"),
)
NEWS_SITES = ("www.infrastructure-ai.news", "www.thegpudaily.com", "www.datacenterwire.com", "techpulse.io",
              "medium.com", "dev.to", "www.reddit.com", "arxiv.org", "github.com", "news.ycombinator.com")  # fmt: skip
TAVILY_MODIFIERS = ("2026", "best practices", "benchmarks", "case study", "cost", "open source", "enterprise",
                    "comparison", "pitfalls", "for startups", "tutorial", "news")  # fmt: skip
ALNUM = string.ascii_letters + string.digits

# Hand-written documents with vocabulary found nowhere else: search tests can rely on finding them first.
ANCHOR_PAGES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    (
        "https://www.sophia-ai.com/blog/liquid-cooling-retrofit-for-dense-gpu-racks",
        "Retrofitting liquid cooling for dense GPU racks",
        "Ingrid Lindqvist",
        (
            "Air cooling stops working somewhere around 40 kW per rack, and a rack of eight-GPU servers now draws "
            "close to 80 kW. Sophia AI's colocation partner in Helsinki retrofitted two data halls with "
            "direct-to-chip liquid cooling instead of building a new site.",
            "Cold plates sit on every GPU and CPU, and coolant distribution units exchange heat with the facility "
            "water loop. Rear-door heat exchangers handle the remaining air-cooled components such as power "
            "supplies and network switches.",
            "Power usage effectiveness dropped from 1.45 to 1.12 after the retrofit. The waste heat now feeds the "
            "city's district heating network, which pays for part of the coolant plumbing.",
            "Leak detection cables under every rack and dripless quick-disconnect couplings were the two items the "
            "insurer insisted on before the first liquid-cooled rack went live.",
        ),
    ),
)
ANCHOR_PROFILE = {
    "firstName": "Valentina",
    "lastName": "Okonjo",
    "fullName": "Valentina Okonjo",
    "headline": "Head of Speech Recognition Infrastructure at Orchid Telecom | Streaming ASR · Diarization",
    "jobTitle": "Head of Speech Recognition Infrastructure",
    "companyName": "Orchid Telecom",
    "companyIndustry": "Telecommunications",
    "companySize": "5001-10000",
    "about": "I run the platform that transcribes Orchid Telecom's customer service calls in real time: streaming "
    "speech recognition in 38 languages, speaker diarization that separates agent and caller, and redaction of "
    "card numbers before any transcript is stored.\n\nWe fine-tuned Whisper-style acoustic models on accented "
    "call-centre audio and cut the word error rate from 14% to 8% on noisy mobile calls.",
    "topSkillsByEndorsements": "Speech Recognition, Speaker Diarization, Audio Signal Processing",
}
ANCHOR_RESULT = {
    "title": "Carbon-aware scheduling of GPU training jobs",
    "url": "https://www.infrastructure-ai.news/sustainability/carbon-aware-scheduling-of-gpu-training-jobs",
    "content": "A carbon-aware scheduler delays deferrable training jobs until the grid's carbon intensity forecast "
    "drops, and moves them to regions powered by hydro or wind when it does not.",
    "raw_content": "Carbon-aware scheduling of GPU training jobs\n\nA carbon-aware scheduler delays deferrable "
    "training jobs until the grid's carbon intensity forecast drops below 150 gCO2 per kWh, and moves them to "
    "regions powered by hydro or wind when it does not.\n\nJobs checkpoint and pause when intensity spikes in "
    "the evening peak, then resume overnight. Over one quarter the emissions of the fine-tuning fleet fell by a "
    "third while the average completion time grew by only four hours.",
}
ANCHOR_COUNT = 1  # items reserved at the start of each stream for the anchors


# --- small helpers -------------------------------------------------------------------------------------


_PROPER_WORDS = frozenset({"Kubernetes", "Snowflake", "Iceberg", "Sophia", "Dagster"})


def phrase(name: str) -> str:
    """A topic name for use mid-sentence: 'Selling AI infrastructure' -> 'selling AI infrastructure'."""
    word = name.split(" ", 1)[0]
    if word in _PROPER_WORDS or not word[1:].islower():
        return name
    return name[0].lower() + name[1:]


def fill(template: str, ctx: dict[str, str]) -> str:
    """Format a template with a document context; 'Games's' becomes "Games'"."""
    return template.format_map(ctx).replace("s's ", "s' ")


def _iso_ms(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _dump(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


class _Writer:
    """Seeded text and value generator: one `context()` per document keeps its facts consistent."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._used_urls: set[str] = set()
        self._used_ids: set[str] = set()

    def token(self, length: int, alphabet: str = ALNUM) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(length))

    def uuid4(self) -> str:
        hexa = "0123456789abcdef"
        return "-".join((self.token(8, hexa), self.token(4, hexa), "4" + self.token(3, hexa),
                         "a" + self.token(3, hexa), self.token(12, hexa)))  # fmt: skip

    def unique_id(self, length: int, alphabet: str = ALNUM) -> str:
        while True:
            value = self.token(length, alphabet)
            if value not in self._used_ids and value[0] != "0":
                self._used_ids.add(value)
                return value

    def unique_url(self, base: str) -> str:
        url, k = base, 1
        while url in self._used_urls:
            k += 1
            url = f"{base}-{k}"
        self._used_urls.add(url)
        return url

    def context(self) -> dict[str, str]:
        rng = self.rng
        gpu = rng.choice(sorted(GPUS))
        low, high = GPUS[gpu]
        dim = rng.choice((384, 768, 1024, 1536, 3072))
        month = rng.randrange(14)  # January 2025 .. February 2026, all before BASE_TIME
        return {
            "company": rng.choice(COMPANIES[:-1])[0],
            "gpu": gpu,
            "gpu2": rng.choice(SMALL_GPUS),
            "cloud": rng.choice(CLOUDS),
            "region": rng.choice(REGIONS),
            "region_eu": rng.choice(EU_REGIONS),
            "db": rng.choice(VECTOR_DBS),
            "price": f"{rng.uniform(low, high):.2f}",
            "n": str(rng.choice((12, 16, 24, 40, 64, 120, 250, 400, 800))),
            "nodes": str(rng.choice((2, 4, 8, 16, 32))),
            "size": str(rng.choice((7, 8, 13, 34, 70))),
            "small": str(rng.choice((1, 3))),
            "tps": str(rng.randrange(800, 4200, 50)),
            "pct": str(rng.randrange(18, 72)),
            "pct2": str(rng.randrange(5, 17)),
            "ms": str(rng.randrange(12, 240)),
            "recall": str(rng.randrange(90, 99)),
            "ef": str(rng.choice((64, 128, 256, 512))),
            "dim": str(dim),
            "bytes": str(dim * 4),
            "hours": str(rng.choice((2, 4, 6, 12, 24))),
            "days": str(rng.choice((30, 60, 90, 180, 365))),
            "mins": str(rng.choice((10, 15, 30))),
            "weeks": str(rng.choice((2, 3, 4, 6))),
            "year": str(2025 + month // 12),
            "month": MONTHS[month % 12],
        }

    def title(self, topic: Topic, ctx: dict[str, str]) -> str:
        return fill(self.rng.choice(topic.titles), ctx)

    def paragraphs(self, topic: Topic, ctx: dict[str, str], person: str) -> list[str]:
        """3-4 paragraphs: most topic sentences once (shuffled), an intro, a glue line and a contact line."""
        keep = max(4, len(topic.sentences) - self.rng.randrange(3))
        sentences = [fill(s, ctx) for s in self.rng.sample(topic.sentences, keep)]
        groups = max(3, min(4, len(sentences) // 2))
        chunks = [sentences[i::groups] for i in range(groups)]
        intro = f"This article looks at {phrase(topic.name)} at {ctx['company']} in {ctx['month']} {ctx['year']}."
        chunks[0].insert(0, intro)
        chunks[-1].append(fill(self.rng.choice(GLUE), ctx))
        chunks[-1].append(f"Questions about this work can go to {person}, who led the project.")
        return [" ".join(chunk) for chunk in chunks]

    def long_paragraphs(self, topic: Topic, min_chars: int) -> list[str]:
        """Numbered reference sections on one topic until the text exceeds `min_chars`."""
        out: list[str] = []
        size, section = 0, 0
        while size < min_chars:
            section += 1
            ctx = self.context()
            heading = f"Section {section}: {self.title(topic, ctx)}"
            body = " ".join(fill(s, ctx) for s in self.rng.sample(topic.sentences, len(topic.sentences)))
            out += [heading, body]
            size += len(heading) + len(body) + 4
        return out

    def person(self) -> tuple[str, str, str]:
        """(first, last, public-identifier stem); about one in eight names is written in a CJK script."""
        if self.rng.random() < 0.12:
            first, last, rom_first, rom_last = self.rng.choice(CJK_NAMES)
            return first, last, slugify(f"{rom_first} {rom_last}")
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        return first, last, slugify(f"{first} {last}")

    def full_name(self, first: str, last: str) -> str:
        return f"{last}{first}" if first[0] > "\u2e80" else f"{first} {last}"


class _Picker:
    """Picks distinct item positions for each kind of mess, so kinds never stack on one item."""

    def __init__(self, rng: random.Random, count: int, reserved: int = ANCHOR_COUNT) -> None:
        self.rng = rng
        self.count = count
        self.free = list(range(reserved, count))

    def take(self, rate: float, minimum: int = 1, where: Callable[[int], bool] | None = None) -> list[int]:
        pool = [i for i in self.free if where is None or where(i)]
        k = min(len(pool), max(minimum, round(rate * self.count)))
        chosen = sorted(self.rng.sample(pool, k))
        taken = set(chosen)
        self.free = [i for i in self.free if i not in taken]
        return chosen


@dataclass
class _Layout:
    """Items of one stream spread over batches; `times[b]` is batch b's start time."""

    sizes: list[int]
    times: list[datetime]

    def batch_of(self, index: int) -> int:
        for batch, size in enumerate(self.sizes):
            if index < size:
                return batch
            index -= size
        raise IndexError(index)

    def group(self, items: list[Any]) -> list[list[Any]]:
        out, start = [], 0
        for size in self.sizes:
            out.append(items[start : start + size])
            start += size
        return out


def _layout(count: int, batches: int, offset_hours: int) -> _Layout:
    start = BASE_TIME + timedelta(hours=offset_hours)
    return _Layout(_split(count, batches), [start + timedelta(days=b) for b in range(batches)])


def _insert_randomly(rng: random.Random, batch: list[Any], item: Any) -> None:
    batch.insert(rng.randrange(len(batch) + 1), item)


# --- Apify Website Content Crawler -----------------------------------------------------------------------


def _wcc_item(w: _Writer, loaded: datetime) -> dict[str, Any]:
    topic = w.rng.choice(TOPICS)
    ctx = w.context()
    host, site_name, section = w.rng.choice(SITES)
    title = w.title(topic, ctx)
    first, last, _ = w.person()
    author = w.full_name(first, last)
    paragraphs = w.paragraphs(topic, ctx, author)
    url = w.unique_url(f"https://{host}/{section}/{slugify(title)}")
    published = loaded - timedelta(days=w.rng.randrange(3, 400), minutes=w.rng.randrange(1440))
    return _wcc_page(w, url, f"{title} | {site_name}", title, paragraphs, author, published, loaded, "en")


def _wcc_page(
    w: _Writer,
    url: str,
    page_title: str,
    heading: str,
    paragraphs: list[str],
    author: str | None,
    published: datetime,
    loaded: datetime,
    language: str,
) -> dict[str, Any]:
    """A crawled page exactly as the Website Content Crawler stores it in its dataset."""
    root = url.split("/", 3)[:3]
    is_blog = w.rng.random() < 0.7
    metadata: dict[str, Any] = {
        "canonicalUrl": url,
        "title": page_title,
        "description": paragraphs[0].split(". ", 1)[0][:300],
        "author": author if is_blog and w.rng.random() < 0.5 else None,
        "keywords": None,
        "languageCode": language,
        "openGraph": [
            {"property": "og:title", "content": heading},
            {"property": "og:type", "content": "article" if is_blog else "website"},
            {"property": "og:url", "content": url},
        ],
        "headers": {"content-type": "text/html; charset=utf-8", "server": "cloudflare"},
    }
    if is_blog:
        metadata["openGraph"].append({"property": "article:published_time", "content": published.isoformat()})
        metadata["jsonLd"] = [
            {
                "@context": "https://schema.org",
                "@type": "BlogPosting",
                "headline": heading,
                "datePublished": _iso_ms(published),
                "author": {"@type": "Person", "name": author},
            }
        ]
    return {
        "url": url,
        "crawl": {
            "loadedUrl": url,
            "loadedTime": _iso_ms(loaded),
            "referrerUrl": "/".join(root) + "/",
            "depth": w.rng.randrange(1, 4),
            "httpStatusCode": 200,
        },
        "metadata": metadata,
        "screenshotUrl": None,
        "text": heading + "\n" + "\n\n".join(paragraphs),
        "markdown": f"# {heading}\n\n" + "\n\n".join(paragraphs),
    }


def _wcc_htmlize(item: dict[str, Any]) -> None:
    lines = [line for line in item["text"].split("\n") if line]
    body = "".join(f"<p>{line.replace(' and ', ' &amp; ', 1)}</p>\n" for line in lines[1:])
    item["text"] = f"<h1>{lines[0]}</h1>\n<script>window.dataLayer=[];</script>{body}<br/>&copy; 2026"


def _wcc_later(item: dict[str, Any], days: int) -> dict[str, Any]:
    copy_ = copy.deepcopy(item)
    loaded = datetime.fromisoformat(item["crawl"]["loadedTime"]) + timedelta(days=days, minutes=7)
    copy_["crawl"]["loadedTime"] = _iso_ms(loaded)
    return copy_


def _wcc_stream(w: _Writer, count: int, messy: bool) -> list[list[Any]]:
    layout = _layout(count, max(2, math.ceil(count / ITEMS_PER_RUN)), 0)
    loaded = [
        layout.times[layout.batch_of(i)] + timedelta(seconds=37 * i, milliseconds=w.rng.randrange(30_000))
        for i in range(count)
    ]
    items: list[Any] = [_wcc_item(w, loaded[i]) for i in range(count)]
    for i, (url, title, author, paragraphs) in enumerate(ANCHOR_PAGES):
        published = loaded[i] - timedelta(days=12)
        page = _wcc_page(
            w, url, f"{title} | Sophia AI Blog", title, list(paragraphs), author, published, loaded[i], "en"
        )
        items[i] = page
    if not messy:
        return layout.group(items)
    pick = _Picker(w.rng, count)
    for i in pick.take(0.05):
        _wcc_htmlize(items[i])
    for i in pick.take(0.05):
        items[i]["metadata"].update(title=None, description=None, author=None, openGraph=None)
        items[i]["markdown"] = None
        items[i]["metadata"].pop("jsonLd", None)
    for n, i in enumerate(pick.take(0.03, minimum=len(FOREIGN_PAGES))):
        language, slug, title_tpl, text_tpl = FOREIGN_PAGES[n % len(FOREIGN_PAGES)]
        ctx = w.context()
        title, text = fill(title_tpl, ctx), fill(text_tpl, ctx)
        url = w.unique_url(f"https://www.sophia-ai.com/{language}/blog/{slug}")
        page = _wcc_page(w, url, title, title, text.split("\n\n"), None, loaded[i], loaded[i], language)
        items[i] = page
    for i in pick.take(0.01, minimum=2):
        topic = w.rng.choice(TOPICS)
        heading = f"{topic.name}: the complete reference guide"
        url = w.unique_url(f"https://docs.sophia-ai.com/reference/{topic.slug}-complete-guide")
        body = w.long_paragraphs(topic, LONG_DOC_CHARS)
        items[i] = _wcc_page(w, url, heading, heading, body, None, loaded[i], loaded[i], "en")
    for i in pick.take(0.005):  # (uncertain shape) text only under metadata
        items[i]["metadata"]["text"] = items[i].pop("text")
    for i in pick.take(0.005):  # text null, markdown only
        items[i]["text"] = None
    for i in pick.take(0.005):
        items[i]["metadata"]["title"] = 2026
    for i in pick.take(0.005):
        items[i]["crawl"] = items[i]["crawl"]["loadedUrl"]
    for i in pick.take(0.005):
        items[i]["metadata"]["jsonLd"] = [{"@type": "Article", "datePublished": "last Tuesday"}]
        items[i]["metadata"]["openGraph"] = [{"property": "og:title", "content": "Untitled"}]
    for i in pick.take(0.005):
        items[i].update(url=None, crawl={"depth": 1}, metadata={**items[i]["metadata"], "canonicalUrl": None})
    for i in pick.take(0.005):
        items[i].update(text="", markdown=None)
    for i in pick.take(0.005):
        items[i].update(text="<div>\n  <br/>\n</div>", markdown="")
    for i in pick.take(0.005):
        items[i]["crawl"]["httpStatusCode"] = 404
        items[i]["metadata"]["title"] = "Page not found"
    runs = layout.group(items)
    last = len(runs) - 1
    not_last = lambda i: layout.batch_of(i) < last  # noqa: E731
    for i in pick.take(0.01, where=not_last):  # re-crawled, unchanged
        _insert_randomly(w.rng, runs[layout.batch_of(i) + 1], _wcc_later(items[i], 1))
    for i in pick.take(0.01, where=not_last):  # re-crawled, changed text, URL seen with utm/fragment/slash
        later = _wcc_later(items[i], 1)
        later["url"] = later["crawl"]["loadedUrl"] = items[i]["url"] + "/?utm_source=newsletter#pricing"
        later["metadata"]["canonicalUrl"] = None
        later["text"] += "\n\nUpdate: the numbers above were re-measured after the latest driver release."
        _insert_randomly(w.rng, runs[layout.batch_of(i) + 1], later)
    junk: list[Any] = [
        "Error: page could not be loaded (net::ERR_CONNECTION_RESET)",
        ["https://www.sophia-ai.com/blog", "https://www.sophia-ai.com/pricing"],
    ]
    for k in range(max(1, round(count * 0.005))):
        for value in junk:
            _insert_randomly(w.rng, runs[k % len(runs)], value)
    return runs


# --- Apify LinkedIn profile scraper ------------------------------------------------------------------------


def _experience(w: _Writer, role: str, company: str, caption: str, place: str, text: str) -> dict[str, Any]:
    company_id = w.token(8, string.digits)
    return {
        "companyId": company_id,
        "companyUrn": f"urn:li:fsd_company:{company_id}",
        "companyLink1": f"https://www.linkedin.com/company/{company_id}/",
        "logo": f"https://media.licdn.com/dms/image/v2/{w.token(12)}/company-logo_100_100/0/",
        "title": role,
        "subtitle": f"{company} · Full-time",
        "caption": caption,
        "metadata": place,
        "breakdown": False,
        "subComponents": [{"description": [{"type": "textComponent", "text": text}]}],
    }


def _profile(w: _Writer, first: str, last: str, public_id: str) -> dict[str, Any]:
    rng = w.rng
    role, team, topic_slugs = rng.choice(PERSONAS)
    topic = TOPIC_BY_SLUG[rng.choice(topic_slugs)]
    ctx = w.context()
    company, industry, size = rng.choice(COMPANIES)
    prev_company = rng.choice([c for c in COMPANIES if c[0] != company])[0]
    location = rng.choice(LOCATIONS)
    years, months = rng.randrange(0, 6), rng.randrange(1, 12)
    duration = f"{years} yrs {months} mos" if years else f"{months} mos"
    start_year = 2026 - years
    sentences = [fill(s, {**ctx, "company": company}) for s in rng.sample(topic.sentences, 4)]
    about = (
        f"I lead the {team} team at {company}, focused on {phrase(topic.name)}. {sentences[0]} {sentences[1]}\n\n"
        f"Before {company} I spent several years at {prev_company}. Happy to talk about "
        f"{', '.join(topic.skills[:3])}."
    )
    headline = f"{role} at {company} | {' · '.join(topic.skills[:2])}"
    url = f"https://www.linkedin.com/in/{public_id}"
    return {
        "linkedinUrl": url,
        "firstName": first,
        "lastName": last,
        "fullName": w.full_name(first, last),
        "headline": headline,
        "connections": rng.randrange(120, 500),
        "followers": rng.randrange(150, 9000),
        "email": None,
        "mobileNumber": None,
        "jobTitle": role,
        "companyName": company,
        "companyIndustry": industry,
        "companyWebsite": f"{slugify(company).replace('-', '')}.com",
        "companyLinkedin": f"linkedin.com/company/{slugify(company)}",
        "companyFoundedIn": rng.randrange(1990, 2022),
        "companySize": size,
        "currentJobDuration": duration,
        "currentJobDurationInYrs": round(years + months / 12, 2),
        "topSkillsByEndorsements": ", ".join(topic.skills[:3]),
        "addressCountryOnly": location.rsplit(", ", 1)[-1],
        "addressWithCountry": location,
        "addressWithoutCountry": location.rsplit(", ", 1)[0],
        "profilePic": f"https://media.licdn.com/dms/image/v2/{w.token(16)}/profile-displayphoto-shrink_100_100/0/",
        "profilePicHighQuality": f"https://media.licdn.com/dms/image/v2/{w.token(16)}/profile-displayphoto-shrink_800_800/0/",
        "about": about,
        "publicIdentifier": public_id,
        "openConnection": None,
        "urn": "ACoAA" + w.token(34),
        "experiences": [
            _experience(
                w,
                role,
                company,
                f"{MONTHS[months][:3]} {start_year} - Present · {duration}",
                f"{location} · Hybrid",
                sentences[2],
            ),
            _experience(
                w,
                rng.choice(("Senior Engineer", "Engineering Manager", "Tech Lead")),
                prev_company,
                f"Jan {start_year - 4} - {MONTHS[months - 1][:3]} {start_year} · 4 yrs",
                rng.choice(LOCATIONS),
                sentences[3],
            ),
        ],
        "updates": [],
        "skills": [{"title": skill, "subComponents": []} for skill in topic.skills],
        "educations": [
            {
                "companyId": w.token(6, string.digits),
                "title": rng.choice(SCHOOLS),
                "subtitle": rng.choice(DEGREES),
                "caption": f"{start_year - 10} - {start_year - 6}",
                "breakdown": False,
                "subComponents": [],
            }
        ],
        "languages": [],
        "licenseAndCertificates": [],
        "honorsAndAwards": [],
        "volunteerAndAwards": [],
        "verifications": [],
        "promos": [],
        "highlights": [],
        "projects": [],
        "publications": [],
        "patents": [],
        "courses": [],
        "testScores": [],
        "organizations": [],
        "volunteerCauses": [],
        "interests": [],
        "recommendations": [],
    }


def _public_id(w: _Writer, stem: str) -> str:
    return f"{stem}-{w.unique_id(8, string.digits + 'abcdef')}"


def _linkedin_stream(w: _Writer, count: int, messy: bool) -> list[list[Any]]:
    layout = _layout(count, max(2, math.ceil(count / ITEMS_PER_RUN)), 2)
    items: list[Any] = []
    for _ in range(count):
        first, last, stem = w.person()
        items.append(_profile(w, first, last, _public_id(w, stem)))
    items[0].update(
        ANCHOR_PROFILE, linkedinUrl="https://www.linkedin.com/in/valentina-okonjo", publicIdentifier="valentina-okonjo"
    )
    items[0]["skills"] = [
        {"title": s, "subComponents": []} for s in ANCHOR_PROFILE["topSkillsByEndorsements"].split(", ")
    ]
    items[0]["experiences"][0].update(
        title=ANCHOR_PROFILE["jobTitle"], subtitle="Orchid Telecom · Full-time", subComponents=[]
    )
    speech = "Built the voice analytics pipeline: call recordings, transcription and keyword spotting."
    items[0]["experiences"][1]["subComponents"] = [{"description": [{"type": "textComponent", "text": speech}]}]
    if not messy:
        return layout.group(items)
    pick = _Picker(w.rng, count)
    for i in pick.take(0.1):
        items[i]["connections"] = "500+"
        items[i]["followers"] = f"{w.rng.randrange(1, 30)},{w.rng.randrange(100, 999)}"
    for i in pick.take(0.05):
        items[i]["about"] = items[i]["about"].replace("\n\n", "<br><br>").replace(", ", " &amp; ", 1)
    for i in pick.take(0.05):
        items[i].update(about=None, experiences=None, email=None, companyIndustry=None)
        items[i].pop("educations")
    for i in pick.take(0.05):
        items[i]["headline"] = "🚀 " + items[i]["headline"] + " | Building GPU clouds ☁️"
    for i in pick.take(0.01):
        items[i]["skills"] = [s["title"] for s in items[i]["skills"]]
    for i in pick.take(0.01):
        items[i]["linkedinUrl"] = None
    for i in pick.take(0.005):
        items[i].update(linkedinUrl=None, publicIdentifier=None)
    for i in pick.take(0.005):
        keep = ("linkedinUrl", "firstName", "lastName", "fullName", "publicIdentifier", "urn")
        items[i] = {k: (v if k in keep else None) for k, v in items[i].items()}
    runs = layout.group(items)
    last = len(runs) - 1
    not_last = lambda i: layout.batch_of(i) < last  # noqa: E731
    for i in pick.take(0.01, where=not_last):
        _insert_randomly(w.rng, runs[layout.batch_of(i) + 1], copy.deepcopy(items[i]))
    for i in pick.take(0.01, where=not_last):
        later = copy.deepcopy(items[i])
        later["linkedinUrl"] = later["linkedinUrl"].replace("www.", "de.") + "/?originalSubdomain=de"
        later["headline"] = "Advisor @ Sophia AI | " + later["headline"]
        later["connections"] = "500+"
        _insert_randomly(w.rng, runs[layout.batch_of(i) + 1], later)
    for k in range(max(1, round(count * 0.005))):
        _insert_randomly(w.rng, runs[k % len(runs)], "Profile is private or does not exist")
    return runs


# --- PhantomBuster LinkedIn Search Export --------------------------------------------------------------------


def _pb_row(w: _Writer, when: datetime) -> dict[str, Any]:
    rng = w.rng
    first, last, stem = w.person()
    role, _, topic_slugs = rng.choice(PERSONAS)
    topic = TOPIC_BY_SLUG[rng.choice(topic_slugs)]
    company = rng.choice(COMPANIES[:-1])[0]
    ctx = {**w.context(), "company": company}
    past_role, past_company = (
        rng.choice(("Senior Data Engineer", "ML Engineer", "Solutions Architect")),
        rng.choice(COMPANIES)[0],
    )
    keywords = rng.choice((role, f"{role} {topic.skills[0]}", topic.skills[0]))
    url = f"https://www.linkedin.com/in/{_public_id(w, stem)}"
    full = w.full_name(first, last)
    summary = " ".join(fill(s, ctx) for s in rng.sample(topic.sentences, 2))
    return {
        "profileUrl": url,
        "fullName": full,
        "firstName": first,
        "lastName": last,
        "profileImageUrl": f"https://media.licdn.com/dms/image/v2/{w.token(16)}/profile-displayphoto-shrink_100_100/0/",
        "job": f"{role} at {company}",
        "currentJob": f"{role} at {company}",
        "pastJob": f"{past_role} at {past_company}",
        "location": rng.choice(LOCATIONS),
        "connectionDegree": rng.choice(("2nd", "2nd", "3rd+", "1st")),
        "sharedConnections": f"{rng.randrange(1, 40)} shared connections",
        "additionalInfo": f"Summary: {summary} Skills: {', '.join(topic.skills)}",
        "url": url,
        "name": full,
        "query": f"https://www.linkedin.com/search/results/people/?keywords={quote_plus(keywords)}",
        "category": "People",
        "timestamp": _iso_ms(when),
    }


def _pb_stream(w: _Writer, count: int, messy: bool) -> list[list[Any]]:
    layout = _layout(count, max(2, math.ceil(count / ITEMS_PER_RUN)), 4)
    when = [
        layout.times[layout.batch_of(i)] + timedelta(seconds=11 * i, milliseconds=w.rng.randrange(9_000))
        for i in range(count)
    ]
    items: list[Any] = [_pb_row(w, when[i]) for i in range(count)]
    if not messy:
        return layout.group(items)
    pick = _Picker(w.rng, count)
    for i in pick.take(0.05):
        items[i]["sharedConnections"] = w.rng.randrange(1, 40)
    for i in pick.take(0.01):
        items[i]["timestamp"] = int(when[i].timestamp() * 1000)
    for i in pick.take(0.03):
        items[i]["job"] = items[i]["job"].replace(" at ", " &amp; AI at ", 1)
    for i in pick.take(0.01):
        items[i]["fullName"] = items[i]["name"] = None
    for i in pick.take(0.01):
        items[i]["profileUrl"] = None
    for i in pick.take(0.01):
        items[i].update(location=None, pastJob=None, sharedConnections=None, profileImageUrl=None)
    for i in pick.take(0.005):
        items[i].update(job=None, currentJob=None, pastJob=None, additionalInfo=None)
    runs = layout.group(items)
    last = len(runs) - 1
    not_last = lambda i: layout.batch_of(i) < last  # noqa: E731
    for i in pick.take(0.01, where=not_last):
        again = copy.deepcopy(items[i])
        again["timestamp"] = _iso_ms(when[i] + timedelta(days=1))
        _insert_randomly(w.rng, runs[layout.batch_of(i) + 1], again)
    for i in pick.take(0.01, where=not_last):
        later = copy.deepcopy(items[i])
        later["timestamp"] = _iso_ms(when[i] + timedelta(days=1))
        later["job"] = later["currentJob"] = f"Chief Technology Officer at {COMPANIES[w.rng.randrange(5)][0]}"
        _insert_randomly(w.rng, runs[layout.batch_of(i) + 1], later)
    for k in range(max(1, round(count * 0.005))):
        error = {
            "query": items[0]["query"],
            "error": "Can't connect to LinkedIn with this session cookie.",
            "timestamp": _iso_ms(layout.times[k % len(runs)]),
        }
        _insert_randomly(w.rng, runs[k % len(runs)], error)
        _insert_randomly(w.rng, runs[(k + 1) % len(runs)], None)
    return runs


# --- Tavily ---------------------------------------------------------------------------------------------------


def _tavily_result(w: _Writer, topic: Topic, news: bool, raw: bool, when: datetime) -> dict[str, Any]:
    ctx = w.context()
    title = w.title(topic, ctx)
    host = w.rng.choice(NEWS_SITES)
    url = w.unique_url(f"https://{host}/{slugify(topic.name)}/{slugify(title)}")
    sentences = [fill(s, ctx) for s in w.rng.sample(topic.sentences, len(topic.sentences))]
    result: dict[str, Any] = {
        "title": title,
        "url": url,
        "content": " ".join(sentences[:2]),
        "score": round(w.rng.uniform(0.35, 0.92), 5),
        "raw_content": f"{title}\n\n" + "\n\n".join(" ".join(sentences[k::3]) for k in range(3)) if raw else None,
        "favicon": f"https://{host}/favicon.ico",
    }
    if news:
        published = when - timedelta(days=w.rng.randrange(1, 40), minutes=w.rng.randrange(1440))
        result["published_date"] = published.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return result


def _tavily_queries(count: int) -> list[tuple[Topic, str]]:
    out = [(topic, topic.query) for topic in TOPICS]
    k = 0
    while len(out) < count:
        topic = TOPICS[k % len(TOPICS)]
        out.append((topic, f"{topic.query} {TAVILY_MODIFIERS[(k // len(TOPICS)) % len(TAVILY_MODIFIERS)]}"))
        k += 1
    return out


def _tavily_stream(w: _Writer, count: int, messy: bool) -> dict[str, Any]:
    searches = max(6, math.ceil(count / RESULTS_PER_SEARCH))
    layout = _layout(count, searches, 6)
    queries = _tavily_queries(len(TOPICS) + searches)
    order = [0, *w.rng.sample(range(1, len(TOPICS)), len(TOPICS) - 1), *range(len(TOPICS), len(queries))]
    plan = [queries[order[b]] + (w.rng.random() < 0.4, w.rng.random() < 0.7) for b in range(searches)]
    items: list[Any] = []
    for i in range(count):
        b = layout.batch_of(i)
        topic, _, news, raw = plan[b]
        items.append(_tavily_result(w, topic, news, raw, layout.times[b]))
    items[0].update(ANCHOR_RESULT, score=0.97213)
    pick = _Picker(w.rng, count) if messy else None
    if pick:
        for i in pick.take(0.05):
            text = items[i]["raw_content"] or items[i]["content"]
            html = "".join(f"<p>{p}</p>" for p in text.split("\n\n"))
            items[i]["raw_content"] = (
                f"<article><h2>{items[i]['title']}</h2>{html}<footer>&copy; 2026</footer></article>"
            )
        for i in pick.take(0.005):
            topic = plan[layout.batch_of(i)][0]
            items[i]["raw_content"] = "\n\n".join(w.long_paragraphs(topic, LONG_DOC_CHARS))
        for i in pick.take(0.01):
            items[i]["title"] = None
        for i in pick.take(0.01):
            items[i]["score"] = str(items[i]["score"])
        for i in pick.take(0.01):
            items[i]["published_date"] = "3 days ago"
        for i in pick.take(0.005):
            items[i].update(content="", raw_content=None)
        for i in pick.take(0.005):
            items[i]["url"] = None
        for i in pick.take(0.005):
            items[i] = f"{items[i]['title']} - {items[i]['url']}"
    groups = layout.group(items)
    if pick:
        for i in pick.take(0.01, where=lambda i: layout.batch_of(i) < searches - 1):
            target = groups[layout.batch_of(i) + 1]
            target.insert(w.rng.randrange(len(target) + 1), copy.deepcopy(items[i]))
    files: dict[str, Any] = {}
    for b, (topic, query, _news, raw) in enumerate(plan):
        results = sorted(groups[b], key=lambda r: -float(r["score"]) if isinstance(r, dict) else 0.0)
        response_time: float | str = round(w.rng.uniform(0.6, 3.2), 2)
        if messy and b == 1:
            response_time = str(response_time)
        answer = None
        if w.rng.random() < 0.5:
            answer = " ".join(fill(s, w.context()) for s in w.rng.sample(topic.sentences, 2))
        slug = slugify(query)
        while slug in files:
            slug += "-again"
        files[slug] = {
            "query": query,
            "follow_up_questions": None,
            "answer": answer,
            "images": [],
            "results": results,
            "response_time": response_time,
            "usage": {"credits": 2 if raw else 1},
            "request_id": w.uuid4(),
        }
    if messy:  # a query over Tavily's 400-character limit: the API answers with an error object
        too_long = "AI infrastructure market map: " + ", ".join(t.name for t in TOPICS)
        files[slugify(too_long)] = {"detail": {"error": "Query is too long. Max query length is 400 characters."}}
    return files


# --- public API ------------------------------------------------------------------------------------------------


def generate_samples(n_documents: int = DEFAULT_DOCUMENTS, seed: int = 7, messy: bool = True) -> dict[str, Any]:
    """All sample files as {relative path: JSON value}, deterministic for a seed (no I/O)."""
    if n_documents < 20:
        raise ValueError("n_documents must be at least 20")
    counts = {source: round(n_documents * share) for source, share in STREAM_SHARES.items()}
    w = _Writer(random.Random(seed))
    files: dict[str, Any] = {}
    apify = (
        (APIFY_WEBSITE_CONTENT, _wcc_stream),
        (APIFY_LINKEDIN_PROFILES, _linkedin_stream),
        (PHANTOMBUSTER_LINKEDIN_SEARCH, _pb_stream),
    )
    for source, build in apify:
        batches = build(w, counts[source], messy)
        is_pb = source == PHANTOMBUSTER_LINKEDIN_SEARCH
        ids = sorted(w.unique_id(16, string.digits) if is_pb else w.unique_id(17) for _ in batches)
        for batch_id, items in zip(ids, batches, strict=True):
            files[(STREAM_DIRS[source] / f"{batch_id}.json").as_posix()] = items
    for slug, response in _tavily_stream(w, counts[TAVILY_SEARCH], messy).items():
        files[(STREAM_DIRS[TAVILY_SEARCH] / f"{slug}.json").as_posix()] = response
    return files


def stream_counts(files: dict[str, Any]) -> dict[str, int]:
    """Items per source: dataset items / result rows, and for Tavily the search results."""
    counts = dict.fromkeys(STREAM_DIRS, 0)
    for path, value in files.items():
        for source, folder in STREAM_DIRS.items():
            if Path(path).parent == folder:
                results = value.get("results") if isinstance(value, dict) else value
                counts[source] += len(results) if isinstance(results, list) else 0
    return counts


def write_samples(
    root: Path, n_documents: int = DEFAULT_DOCUMENTS, seed: int = 7, messy: bool = True
) -> dict[str, int]:
    """Write the sample layout under `root` (replacing stale *.json in the stream folders); items per source."""
    files = generate_samples(n_documents, seed, messy)
    for folder in STREAM_DIRS.values():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for stale in (root / folder).glob("*.json"):
            if stale.relative_to(root).as_posix() not in files:
                stale.unlink()
    for relative, value in files.items():
        (root / relative).write_bytes(_dump(value))
    return stream_counts(files)


def load_sample_records(root: Path, fetched_at: datetime = BASE_TIME) -> list[RawRecord]:
    """RawRecords for every sample under `root`, read the way local mode reads them (one per Tavily response).

    Record ids are the raw stage's; every record gets `fetched_at` so results are reproducible.
    """
    records: list[RawRecord] = []
    for source in STREAM_DIRS:
        system, stream = source.split("/", 1)
        for batch in SamplePayloadSource(system=system, samples_dir=str(root)).fetch_batches(stream):
            for index, item in enumerate(batch.items):
                rid = raw_record_id(source, batch.batch_id, index)
                records.append(RawRecord(rid, source, batch.batch_id, index, item, fetched_at))
    return records


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="samples root to (re)write")
    parser.add_argument("--documents", type=int, default=DEFAULT_DOCUMENTS)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--clean", action="store_true", help="only valid records (no mess)")
    args = parser.parse_args(argv)
    counts = write_samples(args.out, args.documents, args.seed, messy=not args.clean)
    for source, count in counts.items():
        print(f"{source}: {count}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
