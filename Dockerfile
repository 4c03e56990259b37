# syntax=docker/dockerfile:1
# Conveyor: one image for `serve`, `journal-agent` and `journal-watch`.
#   docker build -t conveyor .
#   docker run --rm -p 3000:3000 conveyor            # the sandbox (`conveyor serve`), on 0.0.0.0:3000
#   docker run --rm conveyor journal-agent --env qa --import-cmd /opt/importer/import.sh
#
# Base: Node.js 24, the current LTS line. Pinned by tag here; pin it by digest when you build a
# release (`docker buildx imagetools inspect node:24-bookworm-slim` prints it) with
#   docker build --build-arg NODE_IMAGE=node:24-bookworm-slim@sha256:<digest> .
# The digest is not written in this file because it could not be looked up where this was made.
ARG NODE_IMAGE=node:24-bookworm-slim

# --- build: all dependencies, the typecheck as a gate, and the compiled dist/ -----------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund --ignore-scripts
COPY . .
RUN npm run typecheck && npm run build

# --- runtime: production dependencies and dist/ only (no TypeScript, no tsx, no sources) -----
FROM ${NODE_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="conveyor" \
      org.opencontainers.image.description="Slack ChatOps bot with a GitOps controller: promote, rollback, diff and journal pipelines" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="UNLICENSED" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"
# git: simple-git shells out to it; tini: PID 1 that forwards signals and reaps git children.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git tini ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# HOST=0.0.0.0: serve (and the journal workers' health port) listen on every interface of the
# container, so that `docker run -p 3000:3000` and the kubelet's probes reach them.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: `prepare` compiles with tsc, a development dependency.
RUN npm install --omit=dev --no-audit --no-fund --ignore-scripts \
 && npm cache clean --force
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
COPY --from=build /app/conveyor.schema.json ./
# The data folder (git mirrors, run files, the sandbox) is the only writable place;
# in Kubernetes it is an emptyDir, with a read-only root filesystem.
RUN mkdir -p /app/.conveyor node_modules/.cache/conveyor \
 && chown 1000:1000 /app/.conveyor node_modules/.cache/conveyor
# The image's `node` user (uid 1000), numeric so that runAsNonRoot can verify it.
USER 1000:1000
# The embedded store's template, initialised and migrated (what `npm install`'s prepare script
# makes; the install above skips scripts): a pod's first start copies it instead of running
# Postgres's initdb and the migrations (~3 s more). Made by the user that reads it.
COPY --from=build /app/scripts/pglite-template.mjs ./scripts/
RUN node scripts/pglite-template.mjs
EXPOSE 3000
# serve answers /healthz on PORT; the journal workers on HEALTH_PORT when it is set.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HEALTH_PORT||process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "bin/conveyor.js"]
CMD ["serve"]
