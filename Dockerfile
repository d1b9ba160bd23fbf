# The example shop's image (docker-compose.yml): the framework with the shop extra, the
# contracts and the services. Workers and the API run from /app, where services/ is.
FROM python:3.12-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY saga saga
RUN pip install --no-cache-dir '.[shop]'
COPY avro avro
COPY services services
ENV SAGA_SCHEMA_DIR=/app/avro PYTHONUNBUFFERED=1
