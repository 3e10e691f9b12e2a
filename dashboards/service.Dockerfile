# The sample service of docker-compose.yml: poolscope installed from this checkout.
# Built with the repository root as context (see docker-compose.yml).
FROM python:3.12-slim
WORKDIR /src
COPY pyproject.toml README.md ./
COPY poolscope ./poolscope
COPY scenarios ./scenarios
RUN pip install --no-cache-dir . && useradd --system poolscope
USER poolscope
EXPOSE 8000
ENTRYPOINT ["poolscope"]
