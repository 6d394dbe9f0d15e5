#!/usr/bin/env bash
# Envoy's preStop hook: drain gracefully before the kubelet sends SIGTERM
# (Envoy exits at once on SIGTERM, cutting every request in flight).
#
# 1. Ask Envoy's admin interface to drain its listeners: with
#    --drain-strategy immediate every client is told to go away (HTTP/1.1
#    "Connection: close", HTTP/2 GOAWAY) while the listener still accepts the
#    stragglers that kube-proxy and load balancers send until they notice the
#    pod is terminating.
# 2. Wait at least DRAIN_MIN_SECONDS for those to stop arriving, then until no
#    request is in flight, at most DRAIN_MAX_SECONDS. A streamed completion can
#    take minutes: raise DRAIN_MAX_SECONDS and the pod's
#    terminationGracePeriodSeconds together.
#
# The official Envoy image has bash but no curl, so this speaks HTTP through
# bash's /dev/tcp. The admin interface listens on 127.0.0.1 only.
set -u

admin_port=${ENVOY_ADMIN_PORT:-9901}
min=${DRAIN_MIN_SECONDS:-5}
max=${DRAIN_MAX_SECONDS:-45}

# admin METHOD PATH prints the response of Envoy's admin interface.
admin() {
  exec 3<>"/dev/tcp/127.0.0.1/$admin_port" || return 1
  printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n' "$1" "$2" >&3
  cat <&3
  exec 3<&-
}

# in_flight prints how many client requests the gateway listener's HTTP
# connection manager (stat prefix "llmvoy") is serving.
in_flight() {
  # filter is the regex ^http\.llmvoy\.downstream_rq_active$, URL-encoded.
  admin GET '/stats?filter=%5Ehttp%5C.llmvoy%5C.downstream_rq_active%24' |
    sed -n 's/^http\.llmvoy\.downstream_rq_active: *\([0-9]*\).*$/\1/p'
}

start=$SECONDS
if ! admin POST '/drain_listeners?graceful' >/dev/null; then
  # No admin interface: nothing to drain, and nothing to wait for.
  exit 0
fi
zeros=0
while (( SECONDS - start < max )); do
  n=$(in_flight)
  if [[ -z $n ]]; then
    # An admin that cannot report must not hold the pod until the deadline.
    (( SECONDS - start >= min )) && exit 0
  elif (( n == 0 )); then
    # Two zero readings in a row: a request may arrive on a kept-alive
    # connection just after the first.
    zeros=$((zeros + 1))
    (( zeros >= 2 && SECONDS - start >= min )) && exit 0
  else
    zeros=0
  fi
  sleep 1
done
exit 0
