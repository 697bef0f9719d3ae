# A stand-in for python:3.11-slim-bookworm (Docker's official image), for
# a machine that cannot pull it: Debian's Python 3.11 with venv and pip.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates python3 python3-venv python3-pip \
    && rm -rf /var/lib/apt/lists/* && ln -s /usr/bin/python3 /usr/local/bin/python
# pip trusts the system's certificates (this machine's too), as the
# official image's pip trusts the public ones.
ENV LANG=C.UTF-8 PIP_CERT=/etc/ssl/certs/ca-certificates.crt
CMD ["python3"]
