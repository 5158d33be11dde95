#!/bin/sh
# smtp-status-exporter fed by a Postfix container that logs to its stdout
# (`postconf -e maillog_file=/dev/stdout`, then `postfix start-fg`): the container's log is
# piped into the exporter's standard input (`--log.path -`).
#
#   deploy/container/postfix-stdout.sh            # follows `docker logs` of the container `postfix`
#   POSTFIX_CONTAINER=mx1 deploy/container/postfix-stdout.sh
#   LOGS_CMD='podman logs --follow --since 1s mx1' deploy/container/postfix-stdout.sh
#
# `--tail 0`: only lines written from now on. A pipe has no read position, so after a restart
# of this script `docker logs` would otherwise send the container's whole log again and it
# would be counted twice (counters are kept in the state file across restarts); lines written
# while the exporter is down are missed instead. Where that matters, have Postfix write a file
# (maillog_file=/var/log/mail/mail.log on a volume) and follow the file: positions are saved.
# When the container stops, the input ends: /-/ready says so and /metrics keeps serving.
#
# Tested by tests/it/container.rs (with LOGS_CMD set to print a real Postfix log).
set -eu
: "${POSTFIX_CONTAINER:=postfix}"
: "${LOGS_CMD:=docker logs --follow --tail 0 $POSTFIX_CONTAINER}"
: "${EXPORTER:=smtp-status-exporter}"
: "${STATE_FILE:=/var/lib/smtp-status-exporter/state.json}"
: "${LISTEN:=:9978}"
# Postfix's own lines go to stdout; the container's stderr holds the entrypoint's messages,
# counted as unrecognised lines if any reach the pipe.
# shellcheck disable=SC2086 # LOGS_CMD is a command line.
$LOGS_CMD 2>/dev/null | exec "$EXPORTER" --log.path - --state.file "$STATE_FILE" \
    --web.listen-address "$LISTEN" "$@"
