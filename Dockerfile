# tiermix server image: the `tiermix` CLI from the tiermix-server distribution with its dashboard extra
# (collector, query API, alerts, dashboard), installed from wheels built here.
# One image, several roles: docker-compose.yml runs `tiermix migrate`, `tiermix collector` and
# `tiermix dashboard` from it.
FROM python:3.11-slim AS build
# A C compiler for the compiled OTLP reader and call-key hash (collector/setup.py); only this stage
# has it, the image gets the built wheel.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY sdk ./sdk
COPY collector ./collector
COPY dashboard ./dashboard
RUN pip wheel --no-cache-dir --wheel-dir /wheels ./sdk "./collector[dashboard]" ./dashboard

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TIERMIX_DATA_DIR=/var/lib/tiermix
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels "tiermix-server[dashboard]" \
    && useradd --system --uid 10001 --home-dir /var/lib/tiermix --create-home tiermix
USER tiermix
WORKDIR /var/lib/tiermix
VOLUME ["/var/lib/tiermix"]
# 4318: OTLP/HTTP + query API (tiermix collector / up); 8501: dashboard.
EXPOSE 4318 8501
CMD ["tiermix", "collector", "--host", "0.0.0.0"]
