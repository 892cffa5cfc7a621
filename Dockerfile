# The bot, as it runs in production: `python app.py` on 0.0.0.0:$PORT, as a non-root user.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOST=0.0.0.0 \
    PORT=8000

RUN groupadd --system --gid 10001 bot \
    && useradd --system --uid 10001 --gid bot --no-create-home --shell /usr/sbin/nologin bot

WORKDIR /app

# Runtime dependencies only (no test or packaging extras): the project's own [project] list.
COPY pyproject.toml README.md ./
COPY contextsms/ contextsms/
COPY bot/ bot/
COPY cards/ cards/
COPY sandbox/ sandbox/
COPY manifest/__init__.py manifest/
COPY app.py ./
RUN pip install --no-cache-dir . \
    && rm -rf /root/.cache

USER 10001:10001
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/healthz', timeout=4)"]

CMD ["python", "app.py"]
