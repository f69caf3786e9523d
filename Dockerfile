# syntax=docker/dockerfile:1
# Siaga112 production image: one image, two processes.
#   web:     docker run IMAGE web       (uvicorn, graceful shutdown; no migrations, no embedded servers)
#   worker:  docker run IMAGE worker    (arq: SLA timers, webhooks, rollups)
#   deploy:  docker run IMAGE db upgrade   (once per release, before rolling web/worker)
# Configuration comes from the environment (DATABASE_URL, REDIS_URL, SECRET_KEY, ...), injected
# at run time by the orchestrator from its secret store: nothing secret is baked in.

ARG PYTHON_VERSION=3.11

# ---------------------------------------------------------------- build: wheels for every dependency
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Exactly the locked runtime versions (hashes checked), without the embedded PostgreSQL/Redis of
# `siaga112 serve` (a local convenience; production uses managed servers). Made by .ci/lock.
COPY requirements-runtime.lock ./requirements.txt
RUN pip wheel --require-hashes --wheel-dir /wheels -r requirements.txt

# ---------------------------------------------------------------- runtime: slim, non-root
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    ENVIRONMENT=production \
    HOST=0.0.0.0 \
    PORT=8112 \
    DATA_DIR=/tmp/siaga112 \
    UPLOAD_DIR=/tmp/siaga112/uploads
RUN groupadd --system --gid 10001 siaga112 \
 && useradd --system --uid 10001 --gid siaga112 --home-dir /app --no-create-home --shell /usr/sbin/nologin siaga112
COPY --from=build /src/requirements.txt /tmp/requirements.txt
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt
WORKDIR /app
# Source, templates, migrations and data files are read from the project root (app/config.py
# PROJECT_ROOT); owned by root and read-only for the app user.
COPY alembic.ini pyproject.toml ./
COPY app ./app
COPY migrations ./migrations
COPY templates ./templates
COPY data ./data
COPY tenants ./tenants
COPY docker/siaga112 /usr/local/bin/siaga112
COPY docker/healthcheck.py /usr/local/lib/siaga112-healthcheck.py
RUN chmod 0755 /usr/local/bin/siaga112 \
 && python -m compileall -q /app/app
USER 10001:10001
EXPOSE 8112
# Web: GET /healthz (database + Redis). Worker: arq's health key in Redis is fresh.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "/usr/local/lib/siaga112-healthcheck.py"]
# SIGTERM starts the graceful shutdown of both processes (uvicorn: in-flight requests finish
# within GRACEFUL_SHUTDOWN_S; arq: running jobs get 25 s). Give the container >= 30 s to stop.
STOPSIGNAL SIGTERM
ENTRYPOINT ["siaga112"]
CMD ["web"]
