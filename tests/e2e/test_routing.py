"""LiteLLM's routing, executed by a real Envoy from the config llmvoy translates:
weighted simple-shuffle, strict `order`, least-busy, and retries that move to
another deployment on 5xx and 429.

Every test starts its own mock deployments and its own gateway (the `fleet`
fixture), so a fault injected in one test, or a deployment cooling down, never
leaks into another. Deployments are told apart by the gateway's
x-llmvoy-model-id response header (the deployment Envoy actually used, retries
included), cross-checked with the mock's own x-mock-name header, and by what
each mock recorded.

Statistical checks state their tolerance next to the assertion."""

import collections
import concurrent.futures
import http.client
import json
import os
import re
import socket
import time
import urllib.parse
import urllib.request

import httpx
import pytest

from conftest import LLMVOY, MASTER_KEY, Mock, Proc, free_port

# Enough in flight at once that 2,000 requests take seconds, few enough that
# the two cores this runs on are not drowned in context switches.
CONCURRENCY = 24


class _UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a unix socket: Envoy's admin interface under `llmvoy run`."""

    def __init__(self, path, timeout=10):
        super().__init__("envoy-admin", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def envoy_admin_get(llmvoy_log, path):
    """GET `path` from the admin interface of llmvoy's Envoy, named by the
    `envoy_admin=unix:///...` of llmvoy's log (a private socket, not TCP)."""
    admin = re.search(r"envoy_admin=(\S+)", llmvoy_log).group(1)
    assert admin.startswith("unix:///"), f"Envoy's admin is not a unix socket: {admin}"
    conn = _UnixHTTPConnection(admin.removeprefix("unix://"))
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read().decode()
        assert r.status == 200, f"GET {path}: {r.status} {body[:200]}"
        return body
    finally:
        conn.close()


class Fleet:
    """The mock deployments and the gateway of one test; stopped when it ends."""

    def __init__(self, name, log_dir, tmp_path):
        self.name, self.log_dir, self.tmp_path = name, log_dir, tmp_path
        self.procs = []
        self.client = None

    def _start(self, name, args, ready):
        proc = Proc(f"{self.name}-{name}", args, self.log_dir)
        self.procs.append(proc)
        proc.wait_for(ready)
        return proc

    def mock(self, name, **options):
        """A mock deployment named `name`; `options` go to PUT /mock/config."""
        if not LLMVOY.exists():
            pytest.fail(f"{LLMVOY} is missing: run `make build` first")
        port = free_port()
        proc = self._start(name, [str(LLMVOY), "mock", "--port", str(port), "--name", name],
                           "serving the OpenAI API")
        m = Mock(proc, port)
        m.name = name
        if options:
            configure(m, **options)
        return m

    def gateway(self, config, args=(), env=None):
        """Starts llmvoy on `config` (YAML), with extra command-line `args`
        and extra environment variables `env`, and returns an httpx client
        for it. Its key store is the test's own."""
        path = self.tmp_path / "config.yaml"
        path.write_text(config)
        # A free port can be taken by another process between free_port()
        # and Envoy's bind (then Envoy never listens): try another one.
        for attempt in range(3):
            port = free_port()
            proc = Proc(f"{self.name}-llmvoy", [str(LLMVOY), "run", "--config", str(path), "--host", "127.0.0.1",
                                               "--port", str(port), "--data-dir", str(self.tmp_path / "data"),
                                               *args], self.log_dir,
                        env=None if env is None else dict(os.environ, **env))
            self.procs.append(proc)
            deadline = time.time() + 30
            while "llmvoy is listening" not in proc.output():
                taken = "Address already in use" in proc.output() or "cannot listen" in proc.output()
                if taken and attempt < 2:
                    break
                if taken or proc.p.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"llmvoy did not start:\n{proc.output()}")
                time.sleep(0.05)
            else:
                break
            proc.stop()
            self.procs.remove(proc)
        self.llmvoy = proc
        self.client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}/v1",
            headers={"authorization": f"Bearer {MASTER_KEY}"},
            limits=httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY),
            # Generous: the machine is shared, and a slow mock answers in 300 ms.
            timeout=30,
        )
        return self.client

    def envoy_stats(self, prefix):
        """The gateway's Envoy counters for the model group cluster(s) whose
        name starts with `prefix` after the cluster name, e.g.
        "upstream_rq_retry": {"upstream_rq_retry_overflow": 3, ...}."""
        if not re.search(r"envoy_admin=(\S+)", self.llmvoy.output()):
            return {}  # diagnostics only: never the reason a test fails
        query = urllib.parse.urlencode({"filter": rf"^cluster\.[^.]+\.{prefix}"})
        stats = (line.split(": ") for line in envoy_admin_get(self.llmvoy.output(), f"/stats?{query}").splitlines())
        return {k.split(".", 2)[2]: int(v) for k, v in stats if v.isdigit() and int(v)}

    def close(self):
        if self.client is not None:
            self.client.close()
        for p in reversed(self.procs):
            p.stop()

    def logs(self):
        return "".join(f"\n===== {p.name} log =====\n{p.output()}" for p in self.procs)


@pytest.fixture
def fleet(request, log_dir, tmp_path):
    f = Fleet(request.node.name, log_dir, tmp_path)
    yield f
    f.close()
    print(f.logs())  # pytest shows it only when the test failed


def configure(mock, **options):
    """PUT /mock/config: applies only the keys given (status, latency, ...)."""
    req = urllib.request.Request(mock.base + "/mock/config", data=json.dumps(options).encode(), method="PUT",
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def deployment(group, dep_id, mock, order=None, weight=None):
    """One model_list entry: `group` served by `mock`, with model_info.id `dep_id`."""
    params = [f"model: openai/{dep_id}-model", f"api_base: http://127.0.0.1:{mock.port}/v1", "api_key: sk-mock"]
    if order is not None:
        params.append(f"order: {order}")
    if weight is not None:
        params.append(f"weight: {weight}")
    lines = [f"  - model_name: {group}", "    litellm_params:"]
    lines += [f"      {p}" for p in params]
    lines += ["    model_info:", f"      id: {dep_id}"]
    return "\n".join(lines)


def config(*deployments, **router_settings):
    text = "model_list:\n" + "\n".join(deployments) + "\n"
    if router_settings:
        text += "router_settings:\n" + "".join(f"  {k}: {v}\n" for k, v in router_settings.items())
    # The tests steer the mocks with x-mock-* headers.
    return (text + f"general_settings:\n  master_key: {MASTER_KEY}\n"
            + "  forward_client_headers_to_llm_api: true\n")



Result = collections.namedtuple("Result", "marker status deployment mock")


def chat(client, group, marker):
    """One chat completion whose prompt carries `marker`, so the mocks' logs
    can be matched to the client request that caused them."""
    r = client.post("/chat/completions", json={"model": group, "messages": [{"role": "user", "content": marker}]})
    return Result(marker, r.status_code, r.headers.get("x-llmvoy-model-id"), r.headers.get("x-mock-name"))


def send(client, group, n, concurrency=CONCURRENCY, tag="req"):
    """n requests, `concurrency` at a time; results in submission order."""
    markers = [f"{tag}-{i:05d}" for i in range(n)]
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(lambda m: chat(client, group, m), markers))


def served(results, names):
    """Counts results by deployment id, checking each response is a 200 whose
    deployment header agrees with the mock that actually answered."""
    bad = [r for r in results if r.status != 200]
    assert not bad, f"{len(bad)} of {len(results)} requests failed, e.g. {bad[:3]}"
    for r in results:
        assert names.get(r.deployment) == r.mock, f"x-llmvoy-model-id {r.deployment} but served by mock {r.mock}"
    return collections.Counter(r.deployment for r in results)


def chat_attempts(mock):
    """The chat completion attempts `mock` recorded, oldest first."""
    return [req for req in mock.requests() if req["path"] == "/v1/chat/completions"]


def attempts_by_marker(*mocks):
    """For each request marker, the names of the mocks its attempts reached,
    in the order they arrived."""
    seen = []
    for m in mocks:
        for req in chat_attempts(m):
            seen.append((parse_time(req["time"]), m.name, req["body"]["messages"][0]["content"]))
    seen.sort()
    by = collections.defaultdict(list)
    for _, name, marker in seen:
        by[marker].append(name)
    return by


def parse_time(s):
    """Sortable form of the mocks' RFC 3339 times (one clock, one zone):
    2026-01-02T03:04:05.123456789Z -> ("2026-01-02", "03:04:05", "123456789")."""
    date, _, rest = s.partition("T")
    clock = re.split(r"[Z+-]", rest)[0]
    hms, _, frac = clock.partition(".")
    return date, hms, frac.ljust(9, "0")


# --- weights (simple-shuffle) -------------------------------------------------


def test_weights_split_traffic_nine_to_one(fleet):
    heavy, light = fleet.mock("heavy"), fleet.mock("light")
    client = fleet.gateway(config(
        deployment("gpt", "heavy", heavy, weight=9),
        deployment("gpt", "light", light, weight=1),
        routing_strategy="simple-shuffle"))

    n = 2000
    counts = served(send(client, "gpt", n), {"heavy": "heavy", "light": "light"})
    share = counts["heavy"] / n
    print(f"weights 9:1 over {n} requests: {dict(counts)} -> heavy {share:.3f}")
    # Envoy's weighted pick is a deterministic EDF schedule per worker, so the
    # split is near 90% exactly; even a purely random 0.9 pick has a standard
    # deviation of sqrt(0.9*0.1/2000) = 0.67%, which makes +-3% a 4.5-sigma
    # band (false alarm < 1e-5). An unweighted pick would give 50%.
    assert 0.87 <= share <= 0.93, f"heavy (weight 9) got {share:.1%} of {n} requests: {dict(counts)}"
    assert counts["heavy"] + counts["light"] == n


# --- order --------------------------------------------------------------------


def order_fleet(fleet, **router_settings):
    first, second = fleet.mock("first"), fleet.mock("second")
    client = fleet.gateway(config(
        deployment("gpt", "order-1", first, order=1),
        deployment("gpt", "order-2", second, order=2),
        **router_settings))
    return first, second, client


ORDER_NAMES = {"order-1": "first", "order-2": "second"}


def test_order_1_takes_all_traffic_while_healthy(fleet):
    first, second, client = order_fleet(fleet)
    n = 300
    counts = served(send(client, "gpt", n), ORDER_NAMES)
    print(f"order 1/2 healthy over {n} requests: {dict(counts)}")
    # Strict, not statistical: with Envoy's default overprovisioning factor
    # order 2 would get traffic only if order 1 were degraded; healthy, order
    # 1 must get every request and order 2 none.
    assert counts == {"order-1": n}
    assert chat_attempts(second) == []


def test_order_2_serves_every_request_when_order_1_fails(fleet):
    # allowed_fails is high so no cooldown/ejection helps: failing over to
    # order 2 must come from the retry itself, as in LiteLLM.
    first, second, client = order_fleet(fleet, num_retries=2, allowed_fails=1000, cooldown_time=1)
    assert served(send(client, "gpt", 20), ORDER_NAMES) == {"order-1": 20}

    configure(first, status=500)
    try:
        # One at a time, so each request's attempts are easy to follow.
        results = [chat(client, "gpt", f"down-{i:03d}") for i in range(20)]
        by = attempts_by_marker(first, second)
        print(f"order 1 failing: {collections.Counter((r.status, r.deployment) for r in results)}; "
              f"attempts of the first request: {by['down-000']}")
        assert served(results, ORDER_NAMES) == {"order-2": 20}
        for r in results:
            assert by[r.marker] == ["first", "second"], f"{r.marker}: attempts {by[r.marker]}"
    finally:
        configure(first, status=0)
    # Restored, order 1 takes the traffic back.
    assert served(send(client, "gpt", 40), ORDER_NAMES) == {"order-1": 40}


def test_order_2_takes_over_from_a_failing_order_1_and_gives_it_back(fleet):
    """What holds whether failover comes from the retry or from a cooldown:
    with order 1 failing, order 2 soon serves every request, and once order 1
    recovers it gets its traffic back after the cooldown."""
    # allowed_fails 0: the first failure cools order 1 down, for 5 s.
    first, second, client = order_fleet(fleet, num_retries=2, allowed_fails=0, cooldown_time=5)
    assert served(send(client, "gpt", 20), ORDER_NAMES) == {"order-1": 20}

    configure(first, status=500)
    try:
        # Generous bound: within 10 requests order 2 is serving.
        results = []
        for i in range(10):
            results.append(chat(client, "gpt", f"fail-{i:03d}"))
            if results[-1].status == 200:
                break
        print(f"order 1 failing, until order 2 served: {[(r.status, r.deployment) for r in results]}")
        assert results[-1].status == 200 and results[-1].deployment == "order-2", results
        # While order 1 cools down (5 s; 60 requests take well under 1 s),
        # every request succeeds on order 2.
        assert served(send(client, "gpt", 60), ORDER_NAMES) == {"order-2": 60}
    finally:
        configure(first, status=0)

    # Back to order 1 once the cooldown is over; 20 s is slack for a busy
    # machine. Requests in the meantime succeed on order 2.
    deadline = time.monotonic() + 20
    while True:
        r = chat(client, "gpt", "restored")
        assert r.status == 200, r
        if r.deployment == "order-1":
            break
        assert time.monotonic() < deadline, "order 1 recovered but got no traffic back in 20 s"
        time.sleep(0.2)
    assert served(send(client, "gpt", 40), ORDER_NAMES) == {"order-1": 40}


# --- least-busy ---------------------------------------------------------------


def test_least_busy_prefers_the_deployment_with_fewer_requests_in_flight(fleet):
    slow, fast = fleet.mock("slow", latency="300ms"), fleet.mock("fast")
    client = fleet.gateway(config(
        deployment("gpt", "slow", slow),
        deployment("gpt", "fast", fast),
        routing_strategy="least-busy"))

    n = 400
    start = time.monotonic()
    counts = served(send(client, "gpt", n, concurrency=16), {"slow": "slow", "fast": "fast"})
    share = counts["fast"] / n
    print(f"least-busy over {n} requests in {time.monotonic() - start:.1f}s: {dict(counts)} -> fast {share:.3f}")
    # 16 requests in flight: the slow deployment holds each for 300 ms, the
    # fast one for a few ms, so the slow one nearly always has more in flight
    # and should get a request only when it has drained to the fast one's
    # count. Picking the least busy of the two (Envoy's FULL_SCAN, measured on
    # this load: ~96% fast) clears 85% easily; shuffling gives 50%, and two
    # random choices with replacement at most 75% (+-2.2% at 1 sigma for 400
    # requests, so 85% is > 4 sigma above it).
    assert share >= 0.85, f"fast got {share:.1%} of {n} requests: {dict(counts)}"


# --- retries ------------------------------------------------------------------


RETRY_FAULTS = [
    pytest.param({"status": 500}, id="500"),
    pytest.param({"status": 429, "retry_after": "1s"}, id="429-retry-after"),
]
RETRY_NAMES = {"broken": "broken", "healthy": "healthy"}


def retry_fleet(fleet, fault, **healthy_options):
    broken, healthy = fleet.mock("broken"), fleet.mock("healthy", **healthy_options)
    # allowed_fails is high so that the broken deployment is never cooled
    # down (by Envoy's outlier detection or by a cooldown in Go) during the
    # test: every request keeps its chance to be sent to it first, and the
    # retry alone has to save it.
    client = fleet.gateway(config(
        deployment("gpt", "broken", broken),
        deployment("gpt", "healthy", healthy),
        num_retries=2, allowed_fails=1000, cooldown_time=1))
    configure(broken, **fault)
    # The fault is what the test asked for, Retry-After included.
    r = httpx.post(broken.base + "/v1/chat/completions",
                   json={"model": "m", "messages": [{"role": "user", "content": "probe"}]})
    assert r.status_code == fault["status"]
    if "retry_after" in fault:
        assert r.headers["retry-after"] == "1"
    broken.reset()
    return broken, healthy, client


def check_retried_on_the_other(results, broken, healthy):
    """Each request reached `broken` at most once, and then `healthy`; returns
    how many reached `broken` first."""
    by = attempts_by_marker(broken, healthy)
    tried_broken = 0
    for r in results:
        seq = by[r.marker]
        assert seq in (["healthy"], ["broken", "healthy"]), \
            f"{r.marker}: attempts {seq}; want broken at most once, then healthy"
        tried_broken += seq[0] == "broken"
    assert len(chat_attempts(broken)) == tried_broken
    return tried_broken


@pytest.mark.parametrize("fault", RETRY_FAULTS)
def test_failed_attempt_is_retried_on_the_other_deployment(fleet, fault):
    broken, healthy, client = retry_fleet(fleet, fault)
    n = 40
    # One at a time: each request's attempts are easy to follow, and round
    # robin offers the broken deployment first to nearly every request.
    results = [chat(client, "gpt", f"seq-{i:03d}") for i in range(n)]
    assert served(results, RETRY_NAMES) == {"healthy": n}
    tried_broken = check_retried_on_the_other(results, broken, healthy)
    print(f"{fault}: {tried_broken} of {n} requests tried broken first, then healthy; all 200 from healthy")
    # Shuffling sends the first attempt to the broken deployment about half
    # the time (round robin: nearly always); fewer than a quarter (> 3 sigma
    # below half for 40 requests) would mean it was avoided, and the retry
    # left untested.
    assert tried_broken >= n // 4, f"only {tried_broken} of {n} requests reached the broken deployment"


@pytest.mark.parametrize("fault", RETRY_FAULTS)
def test_failed_attempt_is_retried_on_the_other_deployment_under_load(fleet, fault):
    # The healthy deployment takes 100 ms, so retries overlap as they do when
    # a real provider is slow and another fails.
    broken, healthy, client = retry_fleet(fleet, fault, latency="100ms")
    n = 64
    results = send(client, "gpt", n, concurrency=16, tag="load")
    failed = collections.Counter((r.status, r.deployment) for r in results if r.status != 200)
    print(f"{fault} under load: {n - sum(failed.values())} of {n} succeeded; failed: {dict(failed)}; "
          f"envoy: {fleet.envoy_stats('upstream_rq_retry')}")
    assert served(results, RETRY_NAMES) == {"healthy": n}
    tried_broken = check_retried_on_the_other(results, broken, healthy)
    # Same bound as above: shuffling tries broken first about half the time.
    assert tried_broken >= n // 4, f"only {tried_broken} of {n} requests reached the broken deployment"
