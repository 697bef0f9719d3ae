#!/bin/bash
# The official image's entrypoint, in what compose.yaml needs of it: the
# default user from RABBITMQ_DEFAULT_USER and RABBITMQ_DEFAULT_PASS,
# listening on every address; then rabbitmq-server runs as rabbitmq.
set -Eeuo pipefail
if [[ ${1:-} == rabbitmq-server && $(id -u) == 0 ]]; then
	{
		echo "loopback_users = none"
		echo "listeners.tcp.default = 5672"
		[[ -n ${RABBITMQ_DEFAULT_USER:-} ]] && echo "default_user = $RABBITMQ_DEFAULT_USER"
		[[ -n ${RABBITMQ_DEFAULT_PASS:-} ]] && echo "default_pass = $RABBITMQ_DEFAULT_PASS"
	} >/etc/rabbitmq/rabbitmq.conf
	chown -R rabbitmq:rabbitmq /var/lib/rabbitmq /etc/rabbitmq
	exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups "$@"
fi
exec "$@"
