# syntax=docker/dockerfile:1
# sidecar-injector: `node dist/main.js serve`, non-root, read-only-root friendly
# (writes nothing at run time; logs are JSON lines on stdout). Node 22 LTS.

# ---- build: all dependencies, TypeScript → dist/ -------------------------------
FROM node:22-alpine AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- production dependencies only ----------------------------------------------
FROM node:22-alpine AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---- run ------------------------------------------------------------------------
FROM node:22-alpine
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# The built-in templates, for `serve` without a mounted --templates-dir.
COPY templates ./templates
# 65532: the conventional "nonroot" uid; no home, no writable files needed.
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["node", "dist/main.js"]
CMD ["serve"]
