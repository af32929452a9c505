# syntax=docker/dockerfile:1
#
# esia-bridge as a container: compiled TypeScript on Node 22 LTS (package.json engines:
# ^20.19.0 || ^22.12.0 || >=24.0.0), production dependencies only,
# running as the unprivileged `node` user. The database is external (DATABASE_URL): see
# docker-compose.yml for PostgreSQL 16 next to it. Not executed where this was written (no Docker
# engine there); built from the same `npm ci` / `npm run build` the CI runs.

FROM node:22-bookworm-slim AS build
WORKDIR /app
# Dependencies first, so a source change does not reinstall them. No install scripts are needed to
# compile (the embedded PostgreSQL's binaries are for development, never used in a container).
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:22-bookworm-slim AS runtime
# OpenSSL with the GOST engine (Debian's libengine-gost-openssl): ESIA_SIGNER=command signs
# client_secret with `openssl dgst -engine gost`, GOST-signed ЕСИА tokens are checked with it, and
# `npm run esia:cert-hash` hashes the certificate with it. `openssl engine gost` fails the build if
# the engine does not load, rather than every login later.
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssl libengine-gost-openssl \
 && rm -rf /var/lib/apt/lists/* \
 && openssl engine gost
# npm's cache and logs under /tmp: the root filesystem is read-only in docker-compose.yml and the
# Kubernetes Deployment, and /tmp is the writable place in both (tsx keeps its cache there too).
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    npm_config_cache=/tmp/.npm \
    npm_config_update_notifier=false
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The command-line tools — `npm run admin:create`, `keys:rotate`, `import`, `esia:cert-hash` — run
# the TypeScript of scripts/ and src/ through tsx (a production dependency for this reason), e.g.
# `docker compose run --rm bridge npm run admin:create -- --login ops`. The server itself runs dist/.
COPY --from=build /app/tsconfig.json ./tsconfig.json
COPY --from=build /app/scripts ./scripts
COPY --from=build /app/src ./src
# Root owns the code; the service only reads it. DATA_DIR is the one place it may write.
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node receives SIGTERM directly (no shell in between) and drains before it exits: /readyz 503,
# SHUTDOWN_DELAY_SECONDS (5) still serving, then up to SHUTDOWN_GRACE_SECONDS (30) for requests in
# flight. Give the runtime that long before it kills (docker-compose.yml: stop_grace_period).
CMD ["node", "dist/server.js"]
