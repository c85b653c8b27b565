# Paylane in one container, in the shape of `make serve`: deploy/serve.py runs deploy/Procfile with
# honcho (the HTTP workers, the websocket server, nginx with TLS). PostgreSQL and Redis are separate
# (compose.yaml). NOT built or run by the tests: the project's machines have no container runtime.
# What is tested is `make serve` itself (tests/deploy/test_serve.py); keep this file minimal and in
# step with deploy/ (docs/operations.md, "In containers").
FROM python:3.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /srv/paylane

# Debian's nginx and openssl, as `make serve` installs them on a host.
COPY deploy/install-system-packages deploy/
RUN deploy/install-system-packages && rm -rf /var/lib/apt/lists/*

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# collectstatic reads the settings, which want a key: a throwaway one, for this step only. serve.py
# runs it again at each start (it rewrites the compressed copies), as the service's user.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput -v0 \
    && useradd --system --no-create-home --home-dir /srv/paylane paylane \
    && chown -R paylane:paylane staticfiles

# Not root: nginx listens on unprivileged ports (compose.yaml maps 443 and 80 to them).
USER paylane
ENV HOST=0.0.0.0 PORT=8443 PAYLANE_HTTP_PORT=8080
EXPOSE 8443 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=90s CMD ["python", "deploy/serve.py", "--ready"]
# SECRET_KEY, DATABASE_URL and REDIS_URL come from the environment at `docker run`.
CMD ["python", "deploy/serve.py"]
