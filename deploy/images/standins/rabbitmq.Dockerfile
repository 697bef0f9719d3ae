# A stand-in for rabbitmq:3.10 (Docker's official image), for a machine
# that cannot pull it: Debian's RabbitMQ 3.10 with an entrypoint that
# honours what compose.yaml uses of the official one
# (RABBITMQ_DEFAULT_USER, RABBITMQ_DEFAULT_PASS, the data in
# /var/lib/rabbitmq, rabbitmq-diagnostics on the PATH, port 5672). The
# node is rabbit@<host name>, as there: give the container a fixed one.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends rabbitmq-server && rm -rf /var/lib/apt/lists/*
ENV LANG=C.UTF-8 HOME=/var/lib/rabbitmq
COPY rabbitmq-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/rabbitmq
EXPOSE 5672
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["rabbitmq-server"]
