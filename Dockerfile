# syntax=docker/dockerfile:1
# Conveyor: one image for `serve`, `journal-agent` and `journal-watch`.
#   docker build -t conveyor .
#   docker run --rm -p 3000:3000 conveyor            # the sandbox (`conveyor serve`)
#   docker run --rm conveyor journal-agent --env qa --import-cmd /opt/importer/import.sh

# --- build: all dependencies, the typecheck as a gate, and the compiled dist/ -----------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY . .
RUN npm run typecheck && npm run build

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
# bin/conveyor.js runs dist/ (built above, newer than the sources); tsx stays a runtime
# dependency for the fallback to the sources. No install scripts: `prepare` needs tsc.
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts \
 && npm cache clean --force
COPY --from=build /app/bin ./bin
COPY --from=build /app/src ./src
COPY --from=build /app/commands ./commands
COPY --from=build /app/dist ./dist
# The data folder (git mirrors, embedded state in the sandbox) is the only writable place;
# in Kubernetes it is an emptyDir, with a read-only root filesystem.
RUN mkdir -p /app/.conveyor && chown 1000:1000 /app/.conveyor
# The image's `node` user (uid 1000), numeric so that runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 3000
ENTRYPOINT ["/usr/bin/tini", "--", "node", "bin/conveyor.js"]
CMD ["serve"]
