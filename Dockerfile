# Multi-stage build: a static binary on a distroless base, running as non-root with a read-only
# root filesystem. The go build command is the Makefile's `build` target's (dockerfile_test.go
# checks that they agree).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG REVISION=unknown
ARG BRANCH=unknown
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-X github.com/prometheus/common/version.Version=${VERSION} \
        -X github.com/prometheus/common/version.Revision=${REVISION} \
        -X github.com/prometheus/common/version.Branch=${BRANCH} \
        -X github.com/prometheus/common/version.BuildUser=docker \
        -X github.com/prometheus/common/version.BuildDate=$(date -u +%Y%m%d-%H:%M:%S)" \
      -o /out/sailpoint_exporter . \
    && mkdir -p /out/state

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/sailpoint_exporter /bin/sailpoint_exporter
# The checkpoint directory, owned by the image's user, is the one path the exporter writes:
# run with --read-only and a volume here (an anonymous one if you name none).
COPY --from=build --chown=65532:65532 /out/state /var/lib/sailpoint_exporter
VOLUME ["/var/lib/sailpoint_exporter"]
ENV SAIL_STATE_FILE=/var/lib/sailpoint_exporter/sailpoint_exporter.state
# distroless's nonroot user, by number, so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 19885
ENTRYPOINT ["/bin/sailpoint_exporter"]
