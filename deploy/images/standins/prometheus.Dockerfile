# A stand-in for prom/prometheus (its official image), for a machine that
# cannot pull it: Debian's Prometheus (2.42, which reads what
# deploy/prometheus/prometheus.yml uses), run as the official image runs it
# (the binary as the entrypoint, the data in /prometheus, as nobody).
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends prometheus ca-certificates && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /prometheus /etc/prometheus && chown nobody:nogroup /prometheus
USER nobody
WORKDIR /prometheus
VOLUME /prometheus
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
