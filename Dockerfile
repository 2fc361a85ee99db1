# Headroom image: `headroom up` supervises collector, forecaster, alert dispatcher and dashboard.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HEADROOM_CONFIG=/etc/headroom/headroom.yaml

WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY headroom ./headroom
COPY store ./store
COPY collectors ./collectors
COPY forecasting ./forecasting
COPY alerts ./alerts
COPY dashboard ./dashboard
RUN pip install . \
    && useradd --system --create-home --home-dir /var/lib/headroom --shell /usr/sbin/nologin headroom \
    && mkdir -p /etc/headroom /var/lib/headroom/data \
    && chown -R headroom:headroom /var/lib/headroom \
    && rm -rf /src

USER headroom
WORKDIR /var/lib/headroom
# dashboard
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"]
ENTRYPOINT ["headroom"]
CMD ["up"]
