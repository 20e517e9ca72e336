"""Values that fill the templates: GPUs, clouds, companies, people, places, personas and sites."""

from __future__ import annotations

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
