# A stand-in for postgres:15-bookworm (Docker's official image), for a
# machine that cannot pull it: Debian's PostgreSQL 15 with an entrypoint
# that honours what compose.yaml uses of the official one (POSTGRES_USER,
# POSTGRES_PASSWORD, POSTGRES_DB, PGDATA, pg_isready on the PATH, the data
# in /var/lib/postgresql/data, port 5432, running as postgres).
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-15 && rm -rf /var/lib/apt/lists/* \
    && rm -rf /var/lib/postgresql/15 && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
    && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PGDATA=/var/lib/postgresql/data LANG=C.UTF-8
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
