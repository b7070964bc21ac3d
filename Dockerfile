# keyward daemon image. Build: docker build -t keyward . (no Docker engine runs on our
# dev machines; CI builds the image elsewhere). The runtime stage holds only the
# compiled JavaScript, production dependencies and the HSM client library.
FROM node:24.21.0-bookworm-slim AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY buf.yaml buf.gen.yaml tsconfig.json ./
COPY proto ./proto
COPY src ./src
RUN npx buf generate && npx tsc -p tsconfig.json && npm prune --omit=dev

FROM node:24.21.0-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends softhsm2 tini && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 keyward && useradd --system --uid 10001 --gid keyward --no-create-home keyward \
 && mkdir -p /run/keyward /var/lib/keyward && chown keyward:keyward /run/keyward /var/lib/keyward
WORKDIR /opt/keyward
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY package.json ./
COPY deploy/keyward.container.yaml /etc/keyward/keyward.yaml
USER keyward
ENV NODE_ENV=production
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/opt/keyward/dist/src/cli/main.js"]
CMD ["serve", "--config", "/etc/keyward/keyward.yaml"]
