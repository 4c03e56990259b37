# syntax=docker/dockerfile:1
# Conveyor: one image for `serve`, `journal-agent` and `journal-watch`.
#   docker build -t conveyor .
#   docker run --rm -p 3000:3000 conveyor            # the sandbox (`conveyor serve`)
#   docker run --rm conveyor journal-agent --env qa --import-cmd /opt/importer/import.sh

# --- build: all dependencies, and the typecheck as a gate ----------------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run typecheck

# --- runtime: production dependencies only ---------------------------------------------------
FROM node:20-bookworm-slim AS runtime
# git: simple-git shells out to it; tini: PID 1 that forwards signals and reaps git children.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git tini ca-certificates \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
# tsx is a runtime dependency: bin/conveyor.js registers it and imports src/cli.ts.
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force
COPY --from=build /app/bin ./bin
COPY --from=build /app/src ./src
COPY --from=build /app/commands ./commands
# The data folder (git mirrors, embedded state in the sandbox) is the only writable place;
# in Kubernetes it is an emptyDir, with a read-only root filesystem.
RUN mkdir -p /app/.conveyor && chown 1000:1000 /app/.conveyor
# The image's `node` user (uid 1000), numeric so that runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 3000
ENTRYPOINT ["/usr/bin/tini", "--", "node", "bin/conveyor.js"]
CMD ["serve"]
