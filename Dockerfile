# syntax=docker/dockerfile:1
# Worker image: consumes actor-jobs or spark-jobs (WORKER_MODE), or runs one job and exits (Azure Batch).
#
#   queue mode (default):  node dist/src/worker/main.js              WORKER_MODE=actor|spark
#   one-shot (Batch task): node /app/dist/src/worker/main.js --once --spec <file> --out <dir>
#
# Batch tasks run with the task directory as working directory, so the one-shot command uses the
# absolute entry path (AZURE_BATCH_WORKER_ENTRY=/app/dist/src/worker/main.js).
ARG NODE_VERSION=22

FROM node:${NODE_VERSION}-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no install script is needed to compile (the only ones belong to dev tools and
# protobufjs' version notice), and skipping them keeps the build reproducible on any base image.
RUN npm ci --ignore-scripts
COPY . .
RUN npm run build

FROM node:${NODE_VERSION}-slim AS runtime
ENV NODE_ENV=production \
    WORKER_MODE=actor
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
# The worker runs as root in the container, and /execute commands never do: each command runs
# under a uid of its own from the COMMAND_UID_BASE pool (no passwd entry needed), so it cannot read
# the worker's environment (storage settings, IDENTITY_HEADER of the managed identity) through
# /proc, nor another command's. Switching to those uids, giving them their work folder and reading
# what they leave needs CAP_SETUID, CAP_SETGID, CAP_CHOWN and CAP_DAC_OVERRIDE. Container Apps
# cannot grant capabilities to a non-root user, and file capabilities on node would hand them to any
# command that runs node; root with the runtime's default (unprivileged) capability set is the
# smallest mechanism that works there. On AKS, infra/k8s/workers.yaml drops every other capability.
USER root
# Exec form: node is PID 1 and receives SIGTERM directly, which starts the graceful shutdown
# (WORKER_SHUTDOWN_GRACE_SEC).
CMD ["node", "dist/src/worker/main.js"]
