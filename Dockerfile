# syntax=docker/dockerfile:1
# Slice in a container: docs/operations.md ("Container").
#
#   docker build -t slice .
#   docker run -p 8080:8080 -v slice-data:/data -e SLICE_API_KEY=sk_… slice
#
# The build stage runs scripts/release.sh — the same script CI runs and smoke-tests — and
# the runtime stage holds only its output: compiled JavaScript, the built web app and the
# runtime dependencies (no TypeScript, tsx, Vite or DuckDB).

FROM node:20-bookworm AS build
# python3, make and g++ (better-sqlite3's native addon) are part of this image.
WORKDIR /src
COPY . .
# The package check (npm pack into a scratch project) is CI's; the image needs the tree.
RUN --mount=type=cache,target=/root/.npm \
    SLICE_RELEASE_SKIP_PACK=1 scripts/release.sh /out

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    SLICE_DB=/data/slice.db
WORKDIR /app
COPY --from=build /out /app
# The image's unprivileged `node` user (uid 1000) owns the data volume, nothing else.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
# /readyz answers 200 once every workspace is loaded; a large database takes a while.
HEALTHCHECK --interval=10s --timeout=3s --start-period=120s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT || 8080}/readyz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Slice handles SIGTERM itself (requests finish, changes are logged, the store closes).
ENTRYPOINT ["node", "/app/bin/slice.js"]
CMD ["serve"]
