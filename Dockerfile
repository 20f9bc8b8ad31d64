# The hub image: one build serves the api and worker roles (NERVE_ROLE picks).
# `.ci/run` checks this file without a Docker engine: scripts/check-dockerfile.js copies exactly what the
# COPY lines name (minus .dockerignore), runs the npm steps and starts the result.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ormconfig.ts ./
COPY src src
COPY connectors connectors
COPY scripts scripts
COPY migrations migrations
COPY bench bench
RUN npm run build

# Production dependencies in their own layer: rebuilt only when the lock changes, not on every edit.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production NERVE_DATA_DIR=/data PORT=4000
COPY --from=deps /app/node_modules node_modules
COPY --from=build /app/dist/src dist/src
COPY --from=build /app/dist/connectors dist/connectors
COPY --from=build /app/dist/migrations dist/migrations
COPY graphql graphql
COPY package.json ./
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 4000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||4000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "--enable-source-maps", "dist/src/main.js"]
