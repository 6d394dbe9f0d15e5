"""How many ext_proc messages a request costs, read from Envoy's own
counters, and what the provider gets on each path:

- a direct group (its deployments take OpenAI's format, want one model, one
  path and one key, and have no fallbacks) sends master-key requests without
  the upstream processor: Envoy sets the authority of the deployment it
  picked, per attempt, and adds the key from an SDS secret;
- a group whose deployments have a key each has its model written by the
  gateway, and each attempt's processor turns its body phase off (one
  message, the headers);
- a group whose deployments want different models keeps the per-attempt body
  rewrite (two messages).

Either way the provider gets its own model, path, host and key, never the
client's key or llmvoy's own headers.

Uses the per-test gateway and mocks of test_routing.py (`fleet`)."""

from conftest import MASTER_KEY
from test_routing import chat, chat_attempts, config, configure, deployment, envoy_admin_get, fleet  # noqa: F401  (fleet is a fixture)


def uniform(group, dep_id, mock, key="sk-mock"):
    """A deployment of `group` whose upstream model is the same for every
    deployment made with this helper."""
    return (deployment(group, dep_id, mock)
            .replace(f"model: openai/{dep_id}-model", "model: openai/shared-model")
            .replace("api_key: sk-mock", f"api_key: {key}"))


def upstream_messages(fleet):
    # Only non-zero counters are listed: the 2xx count shows the admin
    # interface answered.
    assert fleet.envoy_stats("upstream_rq_2xx"), "no Envoy admin stats (the gateway log names the admin address)"
    stats = fleet.envoy_stats("ext_proc.upstream.stream_msgs_sent")
    return sum(v for k, v in stats.items() if k.endswith("stream_msgs_sent"))


def envoy_admin(fleet, path):
    return envoy_admin_get(fleet.llmvoy.output(), path)


def assert_provider_got(mock, key):
    """Every attempt `mock` recorded carried its own host, the deployments'
    model, path and key, and nothing of llmvoy's or the client's."""
    attempts = chat_attempts(mock)
    assert attempts
    for req in attempts:
        assert req["body"]["model"] == "shared-model"
        assert req["host"] == f"127.0.0.1:{mock.port}"
        headers = {k.lower(): v for k, v in req["header"].items()}
        assert headers["authorization"] == [f"Bearer {key}"]
        assert not any(MASTER_KEY in v for vs in headers.values() for v in vs)
        leaked = {k for k in headers if k.startswith("x-llmvoy-")} - {"x-llmvoy-client-path"}
        assert not leaked
        # A length, never a chunked body, on the direct path too.
        assert int(headers["content-length"][0]) > 0


def test_direct_group_takes_no_upstream_round_trip(fleet):
    a, b = fleet.mock("a"), fleet.mock("b")
    client = fleet.gateway(config(uniform("same", "a1", a), uniform("same", "b1", b)))
    results = [chat(client, "same", f"d-{i}") for i in range(10)]
    assert all(r.status == 200 for r in results), results
    assert {r.deployment for r in results} == {"a1", "b1"}
    assert upstream_messages(fleet) == 0
    for m in (a, b):
        assert_provider_got(m, "sk-mock")
    assert len(chat_attempts(a)) + len(chat_attempts(b)) == 10
    # The key reaches Envoy as a secret: its admin interface never shows it.
    dump = envoy_admin(fleet, "/config_dump?include_eds")
    assert "group_same/credential" in dump
    assert "sk-mock" not in dump


def test_direct_retry_gets_the_next_deployments_host(fleet):
    a, b = fleet.mock("a"), fleet.mock("b")
    client = fleet.gateway(config(uniform("same", "a1", a), uniform("same", "b1", b), num_retries=1))
    configure(a, status=500)
    results = [chat(client, "same", f"r-{i}") for i in range(6)]
    assert all(r.status == 200 and r.deployment == "b1" for r in results), results
    assert chat_attempts(a), "some attempts went to a first and were retried"
    assert upstream_messages(fleet) == 0
    assert_provider_got(b, "sk-mock")


def test_group_with_a_key_per_deployment_skips_the_attempt_body_phase(fleet):
    a, b = fleet.mock("a"), fleet.mock("b")
    client = fleet.gateway(config(uniform("same", "a1", a, key="sk-a"), uniform("same", "b1", b, key="sk-b")))
    results = [chat(client, "same", f"u-{i}") for i in range(10)]
    assert all(r.status == 200 for r in results), results
    assert upstream_messages(fleet) == 10, "one message (headers) per attempt"
    assert_provider_got(a, "sk-a")
    assert_provider_got(b, "sk-b")
    assert len(chat_attempts(a)) + len(chat_attempts(b)) == 10


def test_group_of_different_models_rewrites_per_attempt(fleet):
    a, b = fleet.mock("a"), fleet.mock("b")
    client = fleet.gateway(config(deployment("mixed", "a1", a), deployment("mixed", "b1", b)))
    results = [chat(client, "mixed", f"m-{i}") for i in range(10)]
    assert all(r.status == 200 for r in results), results
    assert upstream_messages(fleet) == 20, "headers and body per attempt"
    assert {req["body"]["model"] for req in chat_attempts(a)} <= {"a1-model"}
    assert {req["body"]["model"] for req in chat_attempts(b)} <= {"b1-model"}
