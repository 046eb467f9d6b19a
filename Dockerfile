FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY one ./one
COPY ontology ./ontology
COPY providers ./providers
COPY tools ./tools
COPY agents ./agents
COPY graphs ./graphs
COPY bots ./bots
COPY scheduler ./scheduler
RUN pip install --no-cache-dir .
ENV ONE_HOME=/data
ENTRYPOINT ["one"]
CMD ["demo"]
