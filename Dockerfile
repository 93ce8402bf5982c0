# Model-serving image with SageMaker's container contract (README, "Serving a model").
#   docker build -t openclarify .
#   docker run -p 8080:8080 -v "$PWD/model:/opt/ml/model:ro" openclarify      # SageMaker runs: IMAGE serve
# Not built in CI.

# fastText has no wheel on PyPI: build every wheel in a stage with a compiler, install them in a slim one.
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends libstdc++6 && rm -rf /var/lib/apt/lists/*
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels openclarify && rm -rf /wheels
# Listen on every interface inside the container; the port, worker count and timeout come from
# SAGEMAKER_BIND_TO_PORT (8080), SAGEMAKER_MODEL_SERVER_WORKERS (CPU cores) and SAGEMAKER_MODEL_SERVER_TIMEOUT.
ENV OPENCLARIFY_SERVE_HOST=0.0.0.0 \
    PYTHONUNBUFFERED=1
EXPOSE 8080
ENTRYPOINT ["openclarify"]
CMD ["serve"]
