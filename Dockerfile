# syntax=docker/dockerfile:1
#
# The llmvoy image: one static binary, no shell, running as a non-root user.
# Envoy is not in it: run the official image (envoyproxy/envoy:v1.40.0) next
# to it with the bootstrap `llmvoy bootstrap` prints; see docker-compose.yml
# and examples/kubernetes. Checked by deploy/ (go test ./deploy).
#
#   docker build -t llmvoy:local --build-arg VERSION=$(git describe --always --dirty) .

# The builder runs on the build machine's platform and cross-compiles: CGO is
# off, so no C toolchain for the target is needed.
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
WORKDIR /src
# Modules first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/llmvoy ./cmd/llmvoy
RUN mkdir -p /out/data /out/control

# distroless/static has what a static Go binary needs and nothing else:
# CA certificates (llmvoy tells Envoy to verify https providers against
# /etc/ssl/certs/ca-certificates.crt, the same path as in Envoy's image),
# tzdata and a passwd entry for the nonroot user.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/llmvoy /llmvoy
# The SQLite store of virtual keys and spend (without
# general_settings.database_url): mount a volume here to keep it. Owned by
# nonroot so a new volume, which copies it, is writable.
COPY --from=build --chown=65532:65532 /out/data /var/lib/llmvoy
# Where the examples mount the volume of llmvoy's control sockets (see
# docker-compose.yml): owned by nonroot so a new volume, which copies it,
# lets llmvoy make its 0750 control directory inside.
COPY --from=build --chown=65532:65532 /out/control /run/llmvoy
ENV LLMVOY_DATA_DIR=/var/lib/llmvoy
# Numeric, so Kubernetes' runAsNonRoot can verify it: 65532 is distroless'
# "nonroot" user.
USER 65532:65532
# `llmvoy mock`: 4010. `llmvoy run --no-envoy` serves xDS and ext_proc on
# unix sockets (--control-dir), or on TCP ports of your choice with mutual
# TLS; the OpenAI API itself is served by Envoy.
EXPOSE 4010
ENTRYPOINT ["/llmvoy"]
CMD ["help"]
