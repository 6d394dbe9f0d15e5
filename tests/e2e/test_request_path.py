"""How many ext_proc messages a request costs, read from Envoy's own
counters: a group whose deployments all take OpenAI's format and want one
model has its model written by the gateway, and each attempt's processor
turns its body phase off (one message, the headers); a group whose
deployments want different models keeps the per-attempt body rewrite (two
messages). Either way the provider gets its own model.

Uses the per-test gateway and mocks of test_routing.py (`fleet`)."""

from test_routing import chat, chat_attempts, config, deployment, fleet  # noqa: F401  (fleet is a fixture)


def uniform(group, dep_id, mock):
    """A deployment of `group` whose upstream model is the same for every
    deployment made with this helper."""
    return deployment(group, dep_id, mock).replace(f"model: openai/{dep_id}-model", "model: openai/shared-model")


def upstream_messages(fleet):
    stats = fleet.envoy_stats("ext_proc.upstream.stream_msgs_sent")
    assert stats, "no Envoy admin stats (the gateway log names the admin address)"
    return sum(v for k, v in stats.items() if k.endswith("stream_msgs_sent"))


def test_uniform_group_skips_the_attempt_body_phase(fleet):
    a, b = fleet.mock("a"), fleet.mock("b")
    client = fleet.gateway(config(uniform("same", "a1", a), uniform("same", "b1", b)))
    results = [chat(client, "same", f"u-{i}") for i in range(10)]
    assert all(r.status == 200 for r in results), results
    assert upstream_messages(fleet) == 10, "one message (headers) per attempt"
    for m in (a, b):
        assert {req["body"]["model"] for req in chat_attempts(m)} <= {"shared-model"}
    assert len(chat_attempts(a)) + len(chat_attempts(b)) == 10


def test_group_of_different_models_rewrites_per_attempt(fleet):
    a, b = fleet.mock("a"), fleet.mock("b")
    client = fleet.gateway(config(deployment("mixed", "a1", a), deployment("mixed", "b1", b)))
    results = [chat(client, "mixed", f"m-{i}") for i in range(10)]
    assert all(r.status == 200 for r in results), results
    assert upstream_messages(fleet) == 20, "headers and body per attempt"
    assert {req["body"]["model"] for req in chat_attempts(a)} <= {"a1-model"}
    assert {req["body"]["model"] for req in chat_attempts(b)} <= {"b1-model"}
