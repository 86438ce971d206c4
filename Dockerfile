# pinrace as a container: the web app on port 8000.
#   docker build -t pinrace . && docker run --rm -p 8000:8000 pinrace
# Limits are PINRACE_* variables (docs/limits.md), e.g. `docker run -e PINRACE_MAX_SECONDS=10 ...`.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY . .

# The README's install step (scripts/serve.sh): an editable install, so the app serves protocols/
# and frontend/ from beside the package.  Owned by root, run by an unprivileged user.
RUN python3 -m pip install -e . \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin pinrace

USER pinrace
EXPOSE 8000

# no curl in the slim image: Python's urllib asks /api/health
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python3", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=4).status != 200)"]

CMD ["pinrace", "serve", "--host", "0.0.0.0", "--port", "8000"]
