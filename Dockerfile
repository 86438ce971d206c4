# pinrace as a container: the web app on port 8000, installed from its wheel.
#   docker build -t pinrace . && docker run --rm -p 8000:8000 pinrace
# Limits are PINRACE_* variables (docs/limits.md), e.g. `docker run -e PINRACE_MAX_SECONDS=10 ...`.
# BASE is any Debian-like image with python3 >= 3.11 and its venv module: the official slim
# image by default; CI builds one from Debian's packages (scripts/container_smoke.sh).
ARG BASE=python:3.11-slim-bookworm

# ---- build: the wheel, exactly as `pip wheel .` makes it for users --------------------------
FROM ${BASE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY server server
COPY protocols protocols
COPY frontend frontend
# a venv: Debian's own python3 refuses pip installs into itself (PEP 668)
RUN python3 -m venv /opt/build \
    && /opt/build/bin/pip wheel --no-deps --wheel-dir /dist .

# ---- run: the wheel installed into a venv, owned by root, run by an unprivileged user ------
FROM ${BASE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/pinrace/bin:$PATH
COPY --from=build /dist /tmp/dist
RUN python3 -m venv /opt/pinrace \
    && /opt/pinrace/bin/pip install /tmp/dist/pinrace-*.whl \
    && rm -rf /tmp/dist \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin pinrace

USER pinrace
WORKDIR /tmp
EXPOSE 8000

# no curl in the slim image: Python's urllib asks /api/health
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python3", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=4).status != 200)"]

CMD ["pinrace", "serve", "--host", "0.0.0.0", "--port", "8000"]
