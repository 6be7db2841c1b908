# syntax=docker/dockerfile:1
# cdcmerge as a container image for the scheduled ECS task (see deploy/).
#
#   docker build -t cdcmerge .
#
# The builder stage runs scripts/build-static.sh, the same command CI runs and
# deploy/deploy_test.go exercises, so what CI tests is what ships. The image
# holds only the static binary on distroless (CA certificates, /etc/passwd
# with the nonroot user, tzdata); no credentials are baked in: at run time they
# come from the ECS task role.

# The builder's Go version is go.mod's go line (checked by deploy_test.go).
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
ENV GOTOOLCHAIN=local
# Module downloads in their own layer: rebuilt only when go.mod/go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN scripts/build-static.sh /out/cdcmerge

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cdcmerge /cdcmerge
# 65532 is distroless's "nonroot" user.
USER 65532:65532
ENTRYPOINT ["/cdcmerge"]
CMD ["run"]
