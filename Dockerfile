# echosts: docker build -t echosts . && docker run --rm -p 8000:8000 echosts
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml setup.cfg README.md ./
COPY echosts ./echosts
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin echosts

WORKDIR /
USER 10001

# Docker stops a container 10 s after SIGTERM unless told otherwise, so the drain gets 8 s.
ENV ECHO_HOST=0.0.0.0 \
    ECHO_PORT=8000 \
    ECHO_DRAIN_TIMEOUT_S=8
EXPOSE 8000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --timeout=4s --start-period=5s --retries=3 \
    CMD ["python", "-m", "echosts.healthcheck"]
CMD ["echosts"]
