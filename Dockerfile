# ringdns on the official Node image. Build and run:
#   docker build -t ringdns .
#   docker run --rm -p 8053:8053/udp -p 8053:8053/tcp -v ringdns-data:/var/lib/ringdns ringdns
# Settings are RINGDNS_<FLAG> variables (below), so `docker run -e RINGDNS_TTL=60 …` changes one,
# or mount a file and set RINGDNS_CONFIG. mDNS needs the host's LAN: --network host and
# -e RINGDNS_MDNS_INTERFACE=eth0.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
RUN npx tsc -p tsconfig.json && npm prune --omit=dev --ignore-scripts

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /opt/ringdns
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY dashboard ./dashboard
COPY docs ./docs
COPY examples ./examples
RUN chmod +x dist/bin/ringdns.js && ln -s /opt/ringdns/dist/bin/ringdns.js /usr/local/bin/ringdns && install -d -o node -g node /var/lib/ringdns
USER node
VOLUME /var/lib/ringdns
EXPOSE 8053/udp 8053/tcp 8080/tcp
# SIGTERM (docker stop) drains updates, says mDNS goodbyes and closes the store; SIGHUP reloads
STOPSIGNAL SIGTERM
ENV RINGDNS_DNS=0.0.0.0:8053,[::]:8053 \
    RINGDNS_DATA_DIR=/var/lib/ringdns \
    RINGDNS_SERVICES=/opt/ringdns/examples/services.yaml \
    RINGDNS_LOG_FORMAT=json
ENTRYPOINT ["ringdns"]
CMD ["serve"]
