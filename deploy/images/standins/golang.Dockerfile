# A stand-in for golang:1.26-bookworm (Docker's official image), for a
# machine that cannot pull it: Debian with this machine's Go toolchain
# (the build context is its GOROOT).
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates git && rm -rf /var/lib/apt/lists/*
COPY . /usr/local/go
ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    GOPATH=/go GOTOOLCHAIN=local
WORKDIR /go
