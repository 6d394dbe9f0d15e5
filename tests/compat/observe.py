"""What one request shows, flattened into aspects ("status",
"error.type", "header:x-litellm-model-group", "upstream.0.path", ...) whose
values are compared between LiteLLM and llmvoy. Values that differ on every
request (ids, timestamps, costs, durations, texts) are reduced to their
type or to "present" so only meaningful differences remain."""

import json

import httpx

# Headers whose values are compared; every other x-litellm-* header is
# compared by presence only (call ids, costs and durations differ per request).
VALUE_HEADERS = {
    "x-litellm-model-group", "x-litellm-attempted-retries", "x-litellm-attempted-fallbacks",
    "x-litellm-max-retries", "access-control-allow-origin", "access-control-allow-credentials",
}
# Upstream request headers that carry the deployment's credential.
CREDENTIAL_HEADERS = ("authorization", "api-key", "x-api-key")
# Body fields of the upstream request whose values are compared (the rest by type).
VALUE_FIELDS = {"model", "stream", "n", "max_tokens", "encoding_format", "size", "input", "prompt"}


def type_name(v):
    if v is None:
        return "null"
    return {bool: "bool", int: "number", float: "number", str: "string", list: "array", dict: "object"}[type(v)]


def shape(value, prefix, out):
    """Flattens a JSON value into path → type; arrays by their first element."""
    out[prefix] = type_name(value)
    if isinstance(value, dict):
        for k, v in value.items():
            shape(v, f"{prefix}.{k}", out)
    elif isinstance(value, list) and value:
        shape(value[0], f"{prefix}[]", out)
    return out


def scalar(v):
    return json.dumps(v) if not isinstance(v, (dict, list)) else type_name(v)


def client_aspects(resp, text):
    a = {"status": resp.status_code}
    ctype = resp.headers.get("content-type", "")
    a["content-type"] = ctype.split(";")[0].strip() or "absent"
    for name, value in resp.headers.items():
        name = name.lower()
        if name in VALUE_HEADERS:
            a[f"header:{name}"] = value
        elif name.startswith("x-litellm-"):
            a[f"header:{name}"] = "present"
        elif name.startswith("llm_provider-"):
            a["header:llm_provider-*"] = "present"
        elif name.startswith("x-llmvoy-"):
            a["header:x-llmvoy-*"] = "present"
    if a["content-type"] == "text/event-stream":
        chunks, done = [], False
        for line in text.splitlines():
            if line.startswith("data:"):
                data = line[5:].strip()
                if data == "[DONE]":
                    done = True
                else:
                    try:
                        chunks.append(json.loads(data))
                    except ValueError:
                        chunks.append(data)
        a["stream.done"] = done
        merged = {}
        for c in chunks:
            shape(c, "chunk", merged)
        models = {c.get("model") for c in chunks if isinstance(c, dict)}
        a["stream.model"] = ",".join(sorted(map(str, models)))
        a.update({f"stream:{k}": v for k, v in merged.items()})
        return a
    try:
        body = json.loads(text)
    except ValueError:
        a["body"] = "not json"
        return a
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        a["error.type"] = scalar(err.get("type"))
        a["error.code"] = scalar(err.get("code"))
        a["error.keys"] = ",".join(sorted(err))
        return a
    a.update({f"body:{k}": v for k, v in shape(body, "", {}).items()})
    if isinstance(body, dict) and "model" in body:
        a["body.model"] = scalar(body["model"])
    if isinstance(body, dict) and body.get("object") == "list" and all("id" in d for d in body.get("data") or [{}]):
        a["body.ids"] = ",".join(sorted(d["id"] for d in body["data"]))  # /v1/models
    return a


def upstream_aspects(received):
    """received: [(role, request)] in the order the upstreams got them."""
    a = {"upstream.count": len(received)}
    for i, (role, req) in enumerate(sorted(received, key=lambda r: r[1].get("time", ""))):
        p = f"upstream.{i}"
        a[f"{p}.to"] = role
        a[f"{p}.method"] = req["method"]
        a[f"{p}.path"] = req["path"] + ("?" + req["query"] if req.get("query") else "")
        headers = {k.lower(): v[0] for k, v in req["header"].items()}
        for h in CREDENTIAL_HEADERS:
            if h in headers:
                a[f"{p}.{h}"] = headers[h]
        body = req.get("body")
        if isinstance(body, dict):
            for k, v in body.items():
                a[f"{p}.body.{k}"] = scalar(v) if k in VALUE_FIELDS else type_name(v)
    return a


def observe(gateway, upstreams, req):
    """Sends req to gateway and returns the aspects of the answer and of what
    the upstreams received."""
    upstreams.reset()
    with httpx.Client(base_url=gateway.root, timeout=30) as c:
        resp = c.request(req.method, req.path, headers=req.headers, json=req.json)
        text = resp.text
    aspects = client_aspects(resp, text)
    aspects.update(upstream_aspects(upstreams.requests()))
    return aspects


def differences(litellm, llmvoy):
    """aspect → (LiteLLM's value, llmvoy's value), "absent" for a missing one."""
    out = {}
    for k in sorted(set(litellm) | set(llmvoy)):
        lv, vv = litellm.get(k, "absent"), llmvoy.get(k, "absent")
        if lv != vv:
            out[k] = (lv, vv)
    return out
