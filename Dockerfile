# syncflow server image.
#   docker build -t registry.example.com/syncflow:0.1.0 .
# Stage 1 compiles the TypeScript to JavaScript (hack/build.sh) on the full Node image and keeps the
# production dependencies; stage 2 copies the compiled dist/ and those dependencies into a distroless
# Node runtime (no shell, no package manager, no TypeScript loader) that runs as a non-root user.

FROM node:24-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Every dependency for the compile step; the development ones are pruned right after it, so no test
# runner, linter, compiler or type definition reaches the image.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY hack/build.sh hack/build.sh
COPY bin/build-stamp.js bin/build-stamp.js
COPY core/ core/
COPY apiserver/ apiserver/
COPY admission/ admission/
COPY cli/ cli/
COPY client/ client/
COPY history/ history/
COPY controller/ controller/
COPY kube/ kube/
COPY adapters/ adapters/
# The web console (its own npm project; it bundles core/'s validator): console/dist.
COPY hack/console.sh hack/console.sh
COPY console/ console/
RUN bash hack/console.sh && rm -rf console/node_modules
# tsx is a development dependency (bin/syncflow.js uses it from a checkout): checked gone here.
RUN bash hack/build.sh dist \
 && npm prune --omit=dev --no-audit --no-fund \
 && test ! -e node_modules/tsx \
 && npm cache clean --force

FROM gcr.io/distroless/nodejs24-debian12:nonroot
LABEL org.opencontainers.image.title="syncflow" \
      org.opencontainers.image.description="Kubernetes-native engine for synchronous workflows" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://gitlab.com/syncflow/syncflow"
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=0:0 /app/package.json /app/package.json
COPY --from=build --chown=0:0 /app/node_modules /app/node_modules
COPY --from=build --chown=0:0 /app/dist /app/dist
COPY --from=build --chown=0:0 /app/console/dist /app/console/dist
# 65532 = nonroot of the distroless image; the manifests run it with a read-only root filesystem
# and an emptyDir on /tmp.
USER 65532:65532
EXPOSE 8443
# A 32 MiB young generation: at a few thousand executions per second the default (16 MiB) spends
# ~3x longer in scavenges, which copy every in-flight execution (bench/results/api.json, gc).
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=32", "/app/dist/cli/bin.js", "server"]
