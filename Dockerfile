# One image for every ClipForge service; docker-compose.yml picks the service with its command
# (python -m clipforge_<name>).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# ffmpeg/ffprobe run as subprocesses (probe, audio extraction, rendering); DejaVu is the caption font.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Only what the package build needs, so editing tests or docs does not invalidate this layer.
COPY pyproject.toml README.md ./
COPY libs ./libs
COPY services ./services
RUN pip install .

RUN useradd --create-home --uid 10001 clipforge \
    && mkdir -p /var/lib/clipforge \
    && chown clipforge:clipforge /var/lib/clipforge
USER clipforge

# State (caches, scratch files) outside the read-only code; listen on all interfaces in a container.
ENV CLIPFORGE_HOME=/var/lib/clipforge \
    CLIPFORGE_HTTP_HOST=0.0.0.0

EXPOSE 8000 8001 8002 8003 8004
CMD ["python", "-m", "clipforge_gateway"]
