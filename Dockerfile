# syntax=docker/dockerfile:1
# jitsi-oidc-sidecar: build with dev dependencies; run the bundle (dist/bundle: our code and
# every production dependency, no node_modules) on a distroless Node 24 image (no shell, no
# package manager) as a non-root user.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

FROM gcr.io/distroless/nodejs24-debian12:nonroot
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/dist/bundle ./dist/bundle
USER 65532:65532
EXPOSE 8080 9090
# The image's entrypoint is node; operator commands run the same way:
#   kubectl exec <pod> -c sidecar -- /nodejs/bin/node /app/dist/bundle/cli.mjs check
# Stack traces name the bundle's files; for src/*.ts lines run node with --enable-source-maps
# before the script (not the default: it costs start-up time and memory).
CMD ["dist/bundle/cli.mjs", "serve"]
