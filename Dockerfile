# syntax=docker/dockerfile:1
#
# Herald application image. One image, two processes:
#   API (default):  tsx api/main.ts      — HTTP on :3000
#   worker:         node <heap limits> --import tsx worker/main.ts — polls Temporal (docker-compose.yml
#                   overrides the command; worker/memory-limits.ts has the limits and why)
# Herald runs its TypeScript directly with tsx (a runtime dependency); the one build step bundles the
# notification center and the embeddable inbox (web/ → web/dist) with esbuild.

# ---- deps: install node_modules from the lockfile ---------------------------------------------
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# All dependencies (not --omit=dev): simplest, and guarantees the Temporal workflow bundler
# (webpack + swc, used by the worker at start-up) and tsx have everything they need.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund

# ---- runtime ------------------------------------------------------------------------------------
FROM node:20-bookworm-slim AS runtime
WORKDIR /app
# HOST: api/config.ts defaults to 127.0.0.1, which is unreachable from outside a container.
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    HOST=0.0.0.0 \
    PORT=3000

# Dependencies first (changes rarely), then the source. Files stay root-owned and read-only to
# the app user; at run time tsx only writes its cache under /tmp.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY common ./common
COPY db ./db
COPY activities ./activities
COPY workflows ./workflows
COPY worker ./worker
COPY api ./api
COPY templates ./templates
COPY scripts ./scripts
COPY config ./config
COPY examples ./examples
COPY web ./web
RUN node_modules/.bin/tsx web/build.ts

USER node
EXPOSE 3000

# Liveness of the API process only (/readyz also checks Postgres and Temporal).
# The worker and one-shot services disable this in docker-compose.yml.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

CMD ["/app/node_modules/.bin/tsx", "api/main.ts"]
