# Rubric in a container: the web app, grading in-process (or `rubric worker`).
#   docker build -t rubric .
#   docker run ... (the flags the sandbox needs, and why: docs/deploy.md, "Container")
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The service user; root only runs the entrypoint, which delegates a cgroup subtree to
# it and drops to it with the four capabilities the sandbox's fork server needs.
RUN useradd --system --home-dir /app --shell /usr/sbin/nologin rubric

WORKDIR /app
# Dependencies first, so that a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir server && touch server/__init__.py && pip install -e . && rm -rf server
COPY server ./server
COPY migrations ./migrations
COPY exercises ./exercises
COPY quizzes ./quizzes
COPY deploy/container-entrypoint.sh /usr/local/bin/rubric-entrypoint
# Code and content belong to root, read-only to the service; instance/ is its own.
RUN pip install --no-deps -e . && python -m compileall -q server \
    && mkdir -m 0700 instance && chown rubric:rubric instance

VOLUME /app/instance
EXPOSE 8000
ENTRYPOINT ["rubric-entrypoint"]
CMD ["sh", "-c", "rubric db upgrade && rubric content sync && exec rubric serve --host 0.0.0.0"]
