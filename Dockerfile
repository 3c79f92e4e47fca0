# syntax=docker/dockerfile:1
# sidecar-injector: `node dist/main.js serve`, non-root, on a read-only root
# filesystem (it writes nothing at run time; logs are JSON lines on stdout).
#
# The bases are build arguments, so a build that cannot pull (the e2e
# harness, an air-gapped mirror) supplies its own; docs/installing.md says why
# these defaults. A RUNTIME_BASE must carry Node.js 22 at /nodejs/bin/node, as
# the distroless image does.
ARG BUILD_BASE=node:22-bookworm-slim
ARG RUNTIME_BASE=gcr.io/distroless/nodejs22-debian12:nonroot

# ---- build: all dependencies, TypeScript → dist/, then only production dependencies.
# On the builder's own platform: its output is JavaScript (no production
# dependency has native code), so a multi-arch build runs npm and tsc once,
# natively, instead of under emulation per architecture.
FROM --platform=$BUILDPLATFORM ${BUILD_BASE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# ---- run: no shell, no package manager -----------------------------------------
FROM ${RUNTIME_BASE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# The built-in templates, for `serve` without a mounted --templates-dir.
COPY templates ./templates
# 65532: distroless's "nonroot"; numeric, so runAsNonRoot can check it.
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["/nodejs/bin/node", "dist/main.js"]
CMD ["serve"]
