# syntax=docker/dockerfile:1
# jitsi-oidc-sidecar: build with dev dependencies, run with production ones only,
# on a distroless Node 24 image (no shell, no package manager) as a non-root user.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

FROM gcr.io/distroless/nodejs24-debian12:nonroot
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER 65532:65532
EXPOSE 8080 9090
# The image's entrypoint is node; operator commands run the same way:
#   kubectl exec <pod> -c sidecar -- /nodejs/bin/node /app/dist/cli.js check
CMD ["dist/cli.js", "serve"]
