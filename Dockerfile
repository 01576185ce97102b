# syntax=docker/dockerfile:1
#
# EXAMPLE, NOT EXERCISED HERE: the project's build machine has no container runtime, so no test
# builds or runs this image. Read it before use; see docs/operations.md ("Container and systemd").
#
#   docker build -t countersign .
#   docker run --init -p 8080:8080 -v countersign-data:/data \
#     -e COUNTERSIGN_ADMIN_PASSWORD=... countersign
#   docker exec -it <container> node dist/server/cli/main.js identities reset-password admin

# Build: dev dependencies (TypeScript, Vite) compile the server and the portal.
FROM node:20-bookworm-slim AS build
# better-sqlite3 compiles when no prebuilt binary matches the platform.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

# Run: production dependencies and the built files only, as an unprivileged user.
FROM node:20-bookworm-slim
# tini as PID 1 passes SIGTERM on to node and reaps the child processes of Script and PowerShell steps.
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATABASE_URL=sqlite:/data/countersign.db
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Docker's default stop timeout is 10 s: give it more than COUNTERSIGN_SHUTDOWN_GRACE_MS (docker stop -t 15).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/server/cli/main.js", "serve"]
