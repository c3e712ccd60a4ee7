# cxstream worker image (used by docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY streams ./streams
COPY agents ./agents
COPY schemas ./schemas
RUN pip install --no-cache-dir -c constraints.txt . \
 && useradd --create-home cxstream
USER cxstream
ENV CX_DATA_DIR=/home/cxstream/data
EXPOSE 6066
CMD ["cxstream", "worker"]
