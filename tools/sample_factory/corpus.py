"""Topics and their sentence pools: one topic per document, sentences filled from a document context."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    slug: str
    name: str
    query: str
    skills: tuple[str, ...]
    titles: tuple[str, ...]
    sentences: tuple[str, ...]


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
