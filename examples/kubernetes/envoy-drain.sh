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
# Envoy's admin interface is a unix socket (mode 0600, Envoy's user only) on
# an emptyDir only Envoy's container mounts: never loopback TCP, which the
# whole pod shares. This hook runs in Envoy's container, as its user. It uses
# curl when there is one; the official Envoy image has none, but its perl
# speaks HTTP over a unix socket.
set -u

admin_socket=${ENVOY_ADMIN_SOCKET:-/run/envoy/admin.sock}
min=${DRAIN_MIN_SECONDS:-5}
max=${DRAIN_MAX_SECONDS:-45}

# admin METHOD PATH prints the body of the admin interface's answer; it
# fails unless the answer is 200 within 5 seconds.
admin() {
  if command -v curl >/dev/null 2>&1; then
    curl -sf --max-time 5 --unix-socket "$admin_socket" -X "$1" "http://envoy-admin$2"
    return
  fi
  perl -MIO::Socket::UNIX -e '
    my ($socket, $method, $path) = @ARGV;
    alarm 5;
    my $s = IO::Socket::UNIX->new(Peer => $socket) or exit 1;
    print $s "$method $path HTTP/1.1\r\nHost: envoy-admin\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
    local $/;
    my ($head, $body) = split /\r\n\r\n/, <$s> // "", 2;
    exit 1 unless $head =~ m{^HTTP/1\.1 200 };
    $body //= "";
    if ($head =~ /^transfer-encoding:\s*chunked/mi) {
      # Envoy streams /stats: undo the chunking.
      my $out = "";
      while ($body =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//) {
        my $n = hex $1;
        last unless $n;
        $out .= substr($body, 0, $n, "");
        $body =~ s/^\r\n//;
      }
      $body = $out;
    }
    print $body;
  ' "$admin_socket" "$1" "$2"
}

# in_flight prints how many client requests the gateway listener's HTTP
# connection manager (stat prefix "llmvoy") is serving.
in_flight() {
  # filter is the regex ^http\.llmvoy\.downstream_rq_active$, URL-encoded.
  admin GET '/stats?filter=%5Ehttp%5C.llmvoy%5C.downstream_rq_active%24' |
    sed -n 's/^http\.llmvoy\.downstream_rq_active: *\([0-9]*\).*$/\1/p'
}

# elapsed prints the whole seconds since the hook started. $SECONDS ticks
# with the wall clock's second, so "one second" could end a moment after it
# began; bash 5's $EPOCHREALTIME counts microseconds.
start=${EPOCHREALTIME:-}
start=${start/[.,]/}
elapsed() {
  if [[ -n $start ]]; then
    local now=${EPOCHREALTIME/[.,]/}
    echo $(( (10#$now - 10#$start) / 1000000 ))
  else
    echo "$SECONDS"
  fi
}
if ! admin POST '/drain_listeners?graceful' >/dev/null; then
  # No admin interface: nothing to drain, and nothing to wait for.
  exit 0
fi
zeros=0
while (( $(elapsed) < max )); do
  n=$(in_flight)
  if [[ -z $n ]]; then
    # An admin that cannot report must not hold the pod until the deadline.
    (( $(elapsed) >= min )) && exit 0
  elif (( n == 0 )); then
    # Two zero readings in a row: a request may arrive on a kept-alive
    # connection just after the first.
    zeros=$((zeros + 1))
    (( zeros >= 2 && $(elapsed) >= min )) && exit 0
  else
    zeros=0
  fi
  sleep 1
done
exit 0
