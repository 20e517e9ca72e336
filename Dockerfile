# The one image of the platform (ghcr.io/sophia-ai/sophia-platform): the Dagster code location and the four MCP
# servers. The Kubernetes workloads choose the process with their args, e.g.
#   python -m sophia_data_intelligence_mcp_server --transport http --host 0.0.0.0 --port 8080
# Dependencies are installed exactly as pinned in requirements.lock (scripts/lock_image_requirements.py); no
# secrets are baked in: they arrive at run time as environment variables from the ESC-synced Secret.
# Lint: hadolint Dockerfile (tests/test_mcp_packaging.py).

FROM python:3.11.14-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY requirements.lock ./
RUN pip install --no-deps --require-virtualenv -r requirements.lock \
    && pip install --no-deps "setuptools==84.2.1"

COPY pyproject.toml README.md ./
COPY sophia_platform ./sophia_platform
COPY sophia_pipelines ./sophia_pipelines
COPY infra_assets ./infra_assets
COPY resources ./resources
COPY secret_rotation ./secret_rotation
COPY sophia_mcp ./sophia_mcp
COPY sophia_ai_intelligence_mcp_server ./sophia_ai_intelligence_mcp_server
COPY sophia_data_intelligence_mcp_server ./sophia_data_intelligence_mcp_server
COPY sophia_infrastructure_mcp_server ./sophia_infrastructure_mcp_server
COPY sophia_business_intelligence_mcp_server ./sophia_business_intelligence_mcp_server
RUN pip install --no-deps --no-build-isolation . \
    && pip check


FROM python:3.11.14-slim-bookworm

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    SOPHIA_DATA_DIR=/var/lib/sophia

RUN groupadd --system --gid 10001 sophia \
    && useradd --system --uid 10001 --gid sophia --home-dir /opt/dagster --shell /usr/sbin/nologin sophia \
    && mkdir -p /opt/dagster/dagster_home /var/lib/sophia \
    && chown -R sophia:sophia /opt/dagster /var/lib/sophia

COPY --from=build /opt/venv /opt/venv
COPY --chown=sophia:sophia deploy/dagster.yaml /opt/dagster/dagster_home/dagster.yaml
COPY --chown=sophia:sophia pyproject.toml workspace.yaml /opt/dagster/app/

WORKDIR /opt/dagster/app
USER 10001:10001
EXPOSE 8080 4000

# Default process: the Dagster code location's gRPC server (the MCP workloads override the args).
CMD ["dagster", "api", "grpc", "--host", "0.0.0.0", "--port", "4000", "--module-name", "sophia_platform.definitions"]
