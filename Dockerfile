# kproxy as a container: the sidecar ("ambassador") of deploy/kproxy-pod.yaml. Two stages: the
# first builds and packs exactly what `npm pack` ships (the bundle and its runtime dependencies);
# the second is a distroless Node.js 20 image with that and nothing else, running as a non-root
# user. kproxy writes nothing at run time (no temporary files outside `--` mode, logs on
# stderr), so the root filesystem can be mounted read-only.
#
#   docker build --build-arg KPROXY_GIT_COMMIT=$(git rev-parse HEAD) -t kproxy .

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
COPY scripts ./scripts
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
# There is no .git in the build context: the commit comes in as a build argument.
ARG KPROXY_GIT_COMMIT=unknown
ENV KPROXY_GIT_COMMIT=${KPROXY_GIT_COMMIT}
RUN npm run build --silent \
 && npm pack --ignore-scripts --silent \
 && mkdir /out \
 && tar -xzf kproxy-cli-*.tgz -C /out

FROM gcr.io/distroless/nodejs20-debian12:nonroot
COPY --from=build /out/package /opt/kproxy
# distroless's "nonroot" user; numeric so that runAsNonRoot can verify it.
USER 65532:65532
# In a pod, kproxy finds the service account (in-cluster configuration) by itself.
ENTRYPOINT ["/nodejs/bin/node", "/opt/kproxy/bin/kproxy"]
CMD ["--address=127.0.0.1", "--port=8001"]
