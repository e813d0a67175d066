# syncflow server image.
#   docker build -t registry.example.com/syncflow:0.1.0 .
# Stage 1 installs the production dependencies on the full Node image; stage 2 copies them and the
# sources into a distroless Node runtime (no shell, no package manager) that runs as a non-root user.
# The server runs its TypeScript through tsx (a production dependency), so there is no compile step.

FROM node:24-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only: no test runners, linters or type definitions in the image.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force
COPY bin/ bin/
COPY core/ core/
COPY apiserver/ apiserver/
COPY admission/ admission/
COPY cli/ cli/
# Tests and their fixtures are not part of the runtime (.dockerignore drops most; this catches the rest).
RUN find core apiserver admission cli -name '*.test.ts' -delete \
 && find core apiserver admission cli -type d -name testdata -prune -exec rm -rf {} +

FROM gcr.io/distroless/nodejs24-debian12:nonroot
LABEL org.opencontainers.image.title="syncflow" \
      org.opencontainers.image.description="Kubernetes-native engine for synchronous workflows" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://gitlab.com/syncflow/syncflow"
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=0:0 /app /app
# 65532 = nonroot of the distroless image; the manifests run it with a read-only root filesystem
# and an emptyDir on /tmp.
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["/nodejs/bin/node", "/app/bin/syncflow.js", "server"]
