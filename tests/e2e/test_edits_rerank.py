"""OpenAI's /v1/images/edits (a multipart form) with the official OpenAI SDK,
and LiteLLM's Cohere-style /v1/rerank with httpx and the official Cohere
SDK, through a real Envoy: routed by model group like chat, to
OpenAI-compatible and Azure deployments (edits) and to Cohere and the
OpenAI-compatible rerank servers, each on its own path (the mock answers as
OpenAI, Azure and Cohere do); an edit's form replayed on a fallback;
LiteLLM's call types and prices in a virtual key's spend logs; a 501 for a
provider that has no such endpoint."""

import json

import cohere
import httpx
import openai
import pytest

from conftest import MASTER_KEY
from test_keys import admin, generate, root, sdk
from test_media_endpoints import API_VERSION, azure_dep, header, only, openai_dep
from test_metrics import eventually, value
from test_routing import fleet  # noqa: F401  (fleet is a fixture)

IMAGE_PRICE, QUERY_PRICE = 0.011, 0.002
PNG = b"\x89PNG\r\n\x1a\n" + bytes((i * 37 + 0x90) % 256 for i in range(3000))


def rerank_dep(group, dep_id, model, api_base, **info):
    lines = [f"  - model_name: {group}", "    litellm_params:", f"      model: {model}",
             f"      api_base: {api_base}", "      api_key: rr-key", "    model_info:", f"      id: {dep_id}"]
    lines += [f"      {k}: {v}" for k, v in info.items()]
    return "\n".join(lines)


def config(mock, bad):
    base = f"http://127.0.0.1:{mock.port}"
    deps = [
        # Its tokens free: the images are what the test prices.
        openai_dep("edit", "dep-edit", "gpt-image-1", mock, output_cost_per_image=IMAGE_PRICE,
                   input_cost_per_token=0, output_cost_per_token=0),
        # Every attempt fails (503): the form goes on to "edit" through
        # Envoy's internal redirect.
        openai_dep("edit-bad", "dep-edit-bad", "gpt-image-bad", bad),
        azure_dep("az-edit", "az-edit", "edit-dep", mock),
        rerank_dep("rr", "dep-rr", "cohere/rerank-v3.5", base, input_cost_per_query=QUERY_PRICE),
        rerank_dep("rr-jina", "dep-rr-jina", "jina_ai/jina-reranker-v2-base-multilingual", base + "/v1"),
        rerank_dep("rr-vllm", "dep-rr-vllm", "hosted_vllm/BAAI/bge-reranker-v2-m3", base),
        "\n".join(["  - model_name: claude", "    litellm_params:", "      model: anthropic/claude-sonnet-4-5",
                   f"      api_base: {base}", "      api_key: sk-ant", "    model_info:", "      id: dep-claude"]),
    ]
    return ("model_list:\n" + "\n".join(deps) + "\n"
            + "router_settings:\n  num_retries: 1\n  disable_cooldowns: true\n"
            + '  fallbacks: [{"edit-bad": ["edit"]}]\n'
            + f"general_settings:\n  master_key: {MASTER_KEY}\n")


@pytest.fixture
def gw(fleet):
    mock, bad = fleet.mock("m"), fleet.mock("bad", status=503)
    return mock, bad, root(fleet.gateway(config(mock, bad)))


def parts(req):
    """The form's part names, in order, from a recorded request's body."""
    return [p.split('"', 1)[0] for p in req["body"].split('form-data; name="')[1:]]


def test_image_edit_with_the_openai_sdk(gw):
    mock, _, c = gw
    client = sdk(c, MASTER_KEY)
    img = client.images.edit(model="edit", image=("cat.png", PNG, "image/png"), prompt="add a hat")
    assert len(img.data) == 1 and img.data[0].b64_json
    req = only(mock, "/v1/images/edits")
    assert header(req, "authorization") == "Bearer sk-mock"
    assert header(req, "content-type").startswith("multipart/form-data; boundary=")
    assert 'name="model"\r\n\r\ngpt-image-1\r\n' in req["body"]
    # The image reaches the deployment byte for byte: only the model's
    # length changed ("edit" to "gpt-image-1").
    sent = client.images.with_raw_response.edit(model="edit", image=("cat.png", PNG, "image/png"), prompt="add a hat")
    assert sent.http_response.status_code == 200
    got = [r for r in mock.requests() if r["path"] == "/v1/images/edits"][-1]
    assert int(header(got, "content-length")) == int(sent.http_request.headers["content-length"]) + len("gpt-image-1") - len("edit")

    # Several images (image[]) and a mask, as gpt-image models take them.
    many = client.images.edit(model="edit", image=[("a.png", PNG, "image/png"), ("b.png", PNG[:1000], "image/png")],
                              mask=("m.png", PNG[:500], "image/png"), prompt="merge them", n=2)
    assert len(many.data) == 2
    req = [r for r in mock.requests() if r["path"] == "/v1/images/edits"][-1]
    assert sorted(parts(req)) == sorted(["image[]", "image[]", "mask", "prompt", "model", "n"])


def test_image_edit_falls_back_with_its_form(gw):
    mock, bad, c = gw
    img = sdk(c, MASTER_KEY).images.edit(model="edit-bad", image=("x.png", PNG, "image/png"), prompt="p")
    assert img.data[0].b64_json
    failed = [r for r in bad.requests() if r["path"] == "/v1/images/edits"]
    assert len(failed) == 2 and all('\r\n\r\ngpt-image-bad\r\n' in r["body"] for r in failed)
    assert 'name="model"\r\n\r\ngpt-image-1\r\n' in only(mock, "/v1/images/edits")["body"]


def test_image_edit_on_azure(gw):
    mock, _, c = gw
    img = sdk(c, MASTER_KEY).images.edit(model="az-edit", image=("x.png", PNG, "image/png"), prompt="p")
    assert img.data[0].url.startswith("https://")
    req = only(mock, "/openai/deployments/edit-dep/images/edits")
    assert req["query"] == f"api-version={API_VERSION}" and header(req, "api-key") == "az-key"
    assert header(req, "authorization") is None
    # Azure reads the deployment from the path: the form goes as it was.
    assert 'name="model"\r\n\r\naz-edit\r\n' in req["body"]

    # The AzureOpenAI SDK names the group in its path.
    az = openai.AzureOpenAI(azure_endpoint=str(c.base_url).rstrip("/"), api_key=MASTER_KEY,
                            api_version=API_VERSION, max_retries=0)
    img = az.images.edit(model="az-edit", image=("y.png", PNG, "image/png"), prompt="q")
    assert img.data[0].url.startswith("https://")
    assert len([r for r in mock.requests() if r["path"] == "/openai/deployments/edit-dep/images/edits"]) == 2


def rerank_body(model, **extra):
    return {"model": model, "query": "capital of France",
            "documents": ["Berlin is in Germany", "Paris is the capital of France", "Madrid is the capital of Spain"],
            **extra}


def test_rerank_per_provider_path(gw):
    mock, _, c = gw
    auth = {"authorization": f"Bearer {MASTER_KEY}"}
    for path in ["/v1/rerank", "/rerank", "/v2/rerank"]:
        r = c.post(path, headers=auth, json=rerank_body("rr", top_n=2, return_documents=True))
        assert r.status_code == 200, r.text
        a = r.json()
        assert [x["index"] for x in a["results"]] == [1, 2]
        assert a["results"][0]["document"] == {"text": "Paris is the capital of France"}
        assert a["results"][0]["relevance_score"] > a["results"][1]["relevance_score"]
        assert a["meta"]["billed_units"]["search_units"] == 1
    # Cohere's rerank is its v2 API's, at the resource's root.
    reqs = [r for r in mock.requests() if r["path"] == "/v2/rerank"]
    assert len(reqs) == 3 and len(mock.requests()) == 3
    assert reqs[0]["body"] == rerank_body("rerank-v3.5", top_n=2, return_documents=True)
    assert header(reqs[0], "authorization") == "Bearer rr-key"
    assert MASTER_KEY not in json.dumps(reqs)

    # The OpenAI-compatible servers: their base's /rerank.
    r = c.post("/v1/rerank", headers=auth, json=rerank_body("rr-jina"))
    assert r.status_code == 200 and "document" not in r.json()["results"][0]
    assert only(mock, "/v1/rerank")["body"]["model"] == "jina-reranker-v2-base-multilingual"
    r = c.post("/v1/rerank", headers=auth, json=rerank_body("rr-vllm", top_n=1))
    assert r.status_code == 200 and len(r.json()["results"]) == 1
    assert only(mock, "/rerank")["body"]["model"] == "BAAI/bge-reranker-v2-m3"


def test_rerank_with_the_cohere_sdk(gw):
    mock, _, c = gw
    co = cohere.ClientV2(api_key=MASTER_KEY, base_url=str(c.base_url).rstrip("/"), timeout=30)
    r = co.rerank(model="rr", query="capital of France",
                  documents=["Berlin is in Germany", "Paris is the capital of France"], top_n=1)
    assert len(r.results) == 1 and r.results[0].index == 1
    assert r.meta.billed_units.search_units == 1
    assert only(mock, "/v2/rerank")["body"]["model"] == "rerank-v3.5"


def test_providers_without_the_endpoint_get_a_501(gw):
    mock, _, c = gw
    with pytest.raises(openai.APIStatusError) as e:
        sdk(c, MASTER_KEY).images.edit(model="claude", image=("x.png", PNG, "image/png"), prompt="p")
    assert e.value.status_code == 501
    assert "/v1/images/edits" in e.value.body["message"] and '"anthropic"' in e.value.body["message"]
    auth = {"authorization": f"Bearer {MASTER_KEY}"}
    for group, provider in [("claude", "anthropic"), ("az-edit", "azure")]:
        r = c.post("/v1/rerank", headers=auth, json=rerank_body(group))
        assert r.status_code == 501, r.text
        msg = r.json()["error"]["message"]
        assert "/v1/rerank" in msg and f'"{provider}"' in msg and "Cohere-style rerank" in msg
    assert not mock.requests()


def test_bad_requests_are_400s(gw):
    mock, _, c = gw
    auth = {"authorization": f"Bearer {MASTER_KEY}"}
    not_form = c.post("/v1/images/edits", headers=auth, json={"model": "edit", "prompt": "p"})
    assert not_form.status_code == 400 and "multipart/form-data" in not_form.json()["error"]["message"]
    no_model = c.post("/v1/images/edits", headers=auth, files={"image": ("a.png", PNG)}, data={"prompt": "p"})
    assert no_model.status_code == 400 and "model" in no_model.json()["error"]["message"]
    assert not mock.requests()
    r = c.post("/v1/rerank", headers=auth, json={"query": "q", "documents": ["a"]})
    assert r.status_code == 400 and "model" in r.json()["error"]["message"]
    # What the provider refuses reaches the client as a 400.
    r = c.post("/v1/rerank", headers=auth, json={"model": "rr", "query": "q", "documents": []})
    assert r.status_code == 400, r.text
    assert "documents" in r.text


def test_virtual_key_spend(gw):
    _, _, c = gw
    k = generate(c, key_alias="edits-rerank")
    r = sdk(c, k["key"]).images.with_raw_response.edit(model="edit", image=("x.png", PNG, "image/png"), prompt="p", n=3)
    assert float(r.headers["x-litellm-response-cost"]) == pytest.approx(3 * IMAGE_PRICE)
    # 150 documents: two search units, as Cohere bills them.
    docs = [f"document {i}" for i in range(150)]
    r = c.post("/v1/rerank", headers={"authorization": f"Bearer {k['key']}"},
               json={"model": "rr", "query": "document 7", "documents": docs, "top_n": 3})
    assert r.status_code == 200, r.text
    assert float(r.headers["x-litellm-response-cost"]) == pytest.approx(2 * QUERY_PRICE)

    logs = admin(c, "GET", "/spend/logs", params={"api_key": k["key"]}).json()
    by_type = {l["call_type"]: l for l in logs}
    assert set(by_type) == {"aimage_edit", "arerank"}
    assert by_type["aimage_edit"]["spend"] == pytest.approx(3 * IMAGE_PRICE)
    assert by_type["arerank"]["spend"] == pytest.approx(2 * QUERY_PRICE)
    assert all(l["api_key"] == k["token"] for l in logs)
    assert value(c, "llmvoy_spend_usd_total", model_group="rr", deployment="dep-rr") == pytest.approx(2 * QUERY_PRICE)
    assert eventually(c, "gen_ai_server_request_duration_seconds_count", 1, gen_ai_operation_name="rerank", model_group="rr") == 1
    assert eventually(c, "gen_ai_server_request_duration_seconds_count", 1, gen_ai_operation_name="image_edit", model_group="edit") == 1
