# syntax=docker/dockerfile:1
# wake-proxy image: one image, three commands (proxy, control-plane, dev).
#   docker build -t wake-proxy:0.1.0 .
#   docker run --rm -p 3306:3306 -p 9090:9090 -e WAKE_PROXY_BACKEND=db:3306 wake-proxy:0.1.0

# --- build: compile TypeScript with the dev dependencies ---------------------
FROM node:22-bookworm-slim AS build
WORKDIR /app
# Dependencies first, so source edits do not re-run npm ci.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx tsc -p . \
 # Tests and benchmarks are compiled with the rest but have no place in the image.
 && rm -rf dist/test dist/bench

# --- runtime: production dependencies and the compiled output only -----------
FROM node:22-bookworm-slim
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The image's unprivileged user (uid 1000); every port is above 1024.
USER node
# 3306 MySQL clients, 9090 proxy admin HTTP (/metrics, /healthz, /readyz), 8080 control API.
EXPOSE 3306 9090 8080
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["proxy"]
