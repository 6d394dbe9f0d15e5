"""OpenAI's images, moderations, speech and transcriptions endpoints through a
real Envoy with the official OpenAI SDK: routed by model group like chat, to
OpenAI-compatible and Azure deployments (the mock answers as OpenAI and Azure
do), a transcription's multipart form with its model rewritten per
deployment and replayed on a fallback, speech audio passed on byte for byte,
LiteLLM's call types and prices in a virtual key's spend logs, and a 501 for
a provider that has no such endpoint."""

import json

import httpx
import openai
import pytest

from conftest import MASTER_KEY
from test_keys import admin, generate, root, sdk
from test_metrics import eventually, value
from test_routing import configure, fleet  # noqa: F401  (fleet is a fixture)

IMAGE_PRICE, CHAR_PRICE, SECOND_PRICE = 0.04, 0.000015, 0.0001
API_VERSION = "2024-10-21"


def openai_dep(group, dep_id, model, mock, **info):
    lines = [f"  - model_name: {group}", "    litellm_params:", f"      model: openai/{model}",
             f"      api_base: http://127.0.0.1:{mock.port}/v1", "      api_key: sk-mock",
             "    model_info:", f"      id: {dep_id}"]
    lines += [f"      {k}: {v}" for k, v in info.items()]
    return "\n".join(lines)


def azure_dep(group, dep_id, deployment, mock):
    return "\n".join([f"  - model_name: {group}", "    litellm_params:", f"      model: azure/{deployment}",
                      f"      api_base: http://127.0.0.1:{mock.port}", "      api_key: az-key",
                      f'      api_version: "{API_VERSION}"', "    model_info:", f"      id: {dep_id}"])


def media_config(mock, bad):
    deps = [
        openai_dep("dalle", "dep-img", "dall-e-3", mock, output_cost_per_image=IMAGE_PRICE),
        openai_dep("mod", "dep-mod", "omni-moderation-latest", mock),
        openai_dep("tts", "dep-tts", "tts-1", mock, input_cost_per_character=CHAR_PRICE),
        openai_dep("whisper", "dep-stt", "whisper-1", mock, input_cost_per_second=SECOND_PRICE),
        # Every attempt fails (the mock answers 503): the form goes on to
        # "whisper" through Envoy's internal redirect.
        openai_dep("whisper-bad", "dep-stt-bad", "whisper-bad-1", bad),
        azure_dep("az-dalle", "az-img", "dalle-dep", mock),
        azure_dep("az-tts", "az-tts", "tts-dep", mock),
        azure_dep("az-whisper", "az-stt", "whisper-dep", mock),
        "\n".join(["  - model_name: claude", "    litellm_params:", "      model: anthropic/claude-sonnet-4-5",
                   f"      api_base: http://127.0.0.1:{mock.port}", "      api_key: sk-ant",
                   "    model_info:", "      id: dep-claude"]),
    ]
    return ("model_list:\n" + "\n".join(deps) + "\n"
            + "router_settings:\n  num_retries: 1\n  disable_cooldowns: true\n"
            + '  fallbacks: [{"whisper-bad": ["whisper"]}]\n'
            + f"general_settings:\n  master_key: {MASTER_KEY}\n")


@pytest.fixture
def media(fleet):
    mock, bad = fleet.mock("m"), fleet.mock("bad", status=503)
    c = root(fleet.gateway(media_config(mock, bad)))
    return mock, bad, c


def only(mock, path):
    reqs = [r for r in mock.requests() if r["path"] == path]
    assert len(reqs) == 1, mock.requests()
    assert MASTER_KEY not in json.dumps(reqs[0]), "the client's gateway key reached the provider"
    return reqs[0]


def header(req, name):
    for k, v in req["header"].items():
        if k.lower() == name:
            return v[0]
    return None


def audio_file(n=4000):
    """Bytes no JSON or UTF-8 reader takes: a WAV header and noise."""
    return b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes((i * 151 + 0x80) % 256 for i in range(n))


def test_images_moderations_speech_transcriptions(media):
    mock, _, c = media
    client = sdk(c, MASTER_KEY)

    img = client.images.generate(model="dalle", prompt="a lighthouse at dusk", n=2)
    assert len(img.data) == 2 and img.data[0].url.startswith("https://")
    assert img.data[0].revised_prompt == "a lighthouse at dusk"
    req = only(mock, "/v1/images/generations")
    assert req["body"]["model"] == "dall-e-3" and req["body"]["n"] == 2
    assert header(req, "authorization") == "Bearer sk-mock"

    mod = client.moderations.create(model="mod", input=["a calm sea", "I will kill the process"])
    assert [r.flagged for r in mod.results] == [False, True]
    assert mod.results[1].categories.violence is True
    assert only(mock, "/v1/moderations")["body"]["model"] == "omni-moderation-latest"

    # Speech: the audio reaches the client byte for byte.
    text = "The quick brown fox. " * 150
    raw = client.audio.speech.with_raw_response.create(model="tts", voice="alloy", input=text)
    assert raw.headers["content-type"] == "audio/mpeg"
    audio = raw.content
    assert audio.startswith(b"ID3") and len(audio) == 10 + len(text)
    assert only(mock, "/v1/audio/speech")["body"]["model"] == "tts-1"
    direct = httpx.post(f"{mock.base}/v1/audio/speech", json={"model": "tts-1", "voice": "alloy", "input": text})
    assert audio == direct.content

    # A transcription: multipart in, the model field rewritten for the
    # deployment, the file untouched.
    wav = audio_file()
    tr = client.audio.transcriptions.create(model="whisper", file=("clip.wav", wav, "audio/wav"))
    assert tr.text == f"mock transcription of clip.wav ({len(wav)} bytes) by whisper-1"
    plain = client.audio.transcriptions.create(model="whisper", file=("clip.wav", wav), response_format="text")
    assert plain.strip() == tr.text
    reqs = [r for r in mock.requests() if r["path"] == "/v1/audio/transcriptions"]
    assert len(reqs) == 2
    assert header(reqs[0], "content-type").startswith("multipart/form-data; boundary=")
    assert 'name="model"\r\n\r\nwhisper-1\r\n' in reqs[0]["body"]
    assert int(header(reqs[0], "content-length")) > len(wav)


def test_transcription_falls_back_with_its_form(media):
    mock, bad, c = media
    client = sdk(c, MASTER_KEY)
    wav = audio_file(2500)
    tr = client.audio.transcriptions.create(model="whisper-bad", file=("fb.wav", wav))
    assert tr.text.endswith("by whisper-1")
    # num_retries 1: two attempts on the failing group, each with its model.
    failed = [r for r in bad.requests() if r["path"] == "/v1/audio/transcriptions"]
    assert len(failed) == 2 and all('\r\n\r\nwhisper-bad-1\r\n' in r["body"] for r in failed)
    assert only(mock, "/v1/audio/transcriptions")


def test_azure_deployments(media):
    mock, _, c = media
    client = sdk(c, MASTER_KEY)
    img = client.images.generate(model="az-dalle", prompt="a fjord", response_format="b64_json")
    assert img.data[0].b64_json
    req = only(mock, "/openai/deployments/dalle-dep/images/generations")
    assert req["query"] == f"api-version={API_VERSION}" and header(req, "api-key") == "az-key"
    assert header(req, "authorization") is None

    raw = client.audio.speech.with_raw_response.create(model="az-tts", voice="nova", input="hej")
    assert raw.content.startswith(b"ID3")
    assert only(mock, "/openai/deployments/tts-dep/audio/speech")["body"]["model"] == "tts-dep"

    tr = client.audio.transcriptions.create(model="az-whisper", file=("az.wav", audio_file(1200)))
    # Azure reads the deployment from the path; the form goes as it was.
    assert tr.text.endswith("by az-whisper")
    req = only(mock, "/openai/deployments/whisper-dep/audio/transcriptions")
    assert header(req, "api-key") == "az-key"

    # The AzureOpenAI SDK names the group in its path.
    az = openai.AzureOpenAI(azure_endpoint=str(c.base_url).rstrip("/"), api_key=MASTER_KEY,
                            api_version=API_VERSION, max_retries=0)
    tr = az.audio.transcriptions.create(model="az-whisper", file=("p.wav", audio_file(1000)))
    assert tr.text.startswith("mock transcription of p.wav")


def test_providers_without_the_endpoint_get_a_501(media):
    _, _, c = media
    client = sdk(c, MASTER_KEY)
    with pytest.raises(openai.APIStatusError) as e:
        client.images.generate(model="claude", prompt="x")
    assert e.value.status_code == 501
    msg = e.value.body["message"]
    assert "/v1/images/generations" in msg and '"anthropic"' in msg
    with pytest.raises(openai.APIStatusError) as e:
        client.moderations.create(model="az-dalle", input="x")
    assert e.value.status_code == 501 and '"azure"' in e.value.body["message"]


def test_hostile_forms_are_400s(media):
    mock, _, c = media
    auth = {"authorization": f"Bearer {MASTER_KEY}"}
    no_model = httpx.post(f"{c.base_url}/v1/audio/transcriptions", headers=auth, files={"file": ("a.wav", b"x")})
    assert no_model.status_code == 400 and "model" in no_model.json()["error"]["message"]
    two = httpx.post(f"{c.base_url}/v1/audio/transcriptions", headers=auth, files={"file": ("a.wav", b"x")},
                     data={"model": ["whisper", "dalle"]})
    assert two.status_code == 400 and "two" in two.json()["error"]["message"]
    not_form = httpx.post(f"{c.base_url}/v1/audio/transcriptions", headers=auth, json={"model": "whisper"})
    assert not_form.status_code == 400 and "multipart/form-data" in not_form.json()["error"]["message"]
    bad_boundary = httpx.post(f"{c.base_url}/v1/audio/transcriptions", content=b"--x\r\nnot a part",
                              headers={**auth, "content-type": "multipart/form-data; boundary=x"})
    assert bad_boundary.status_code == 400
    assert not [r for r in mock.requests() if r["path"] == "/v1/audio/transcriptions"]


def test_virtual_key_spend(media):
    _, _, c = media
    k = generate(c, key_alias="media")
    client = sdk(c, k["key"])
    r = client.images.with_raw_response.generate(model="dalle", prompt="p", n=3)
    assert float(r.headers["x-litellm-response-cost"]) == pytest.approx(3 * IMAGE_PRICE)
    r = client.audio.speech.with_raw_response.create(model="tts", voice="alloy", input="héllo")
    assert float(r.headers["x-litellm-response-cost"]) == pytest.approx(5 * CHAR_PRICE)
    assert r.content.startswith(b"ID3")
    wav = audio_file(7000)  # the mock hears a second a kilobyte
    client.audio.transcriptions.create(model="whisper", file=("s.wav", wav))
    client.moderations.create(model="mod", input="fine")

    logs = admin(c, "GET", "/spend/logs", params={"api_key": k["key"]}).json()
    by_type = {l["call_type"]: l for l in logs}
    assert set(by_type) == {"aimage_generation", "aspeech", "atranscription", "amoderation"}
    assert by_type["aimage_generation"]["spend"] == pytest.approx(3 * IMAGE_PRICE)
    assert by_type["aspeech"]["spend"] == pytest.approx(5 * CHAR_PRICE)
    assert by_type["atranscription"]["spend"] == pytest.approx(7 * SECOND_PRICE)
    assert by_type["amoderation"]["spend"] == 0
    assert all(l["api_key"] == k["token"] for l in logs)
    assert value(c, "llmvoy_spend_usd_total", model_group="dalle", deployment="dep-img") == pytest.approx(3 * IMAGE_PRICE)
    assert eventually(c, "gen_ai_server_request_duration_seconds_count", 1, gen_ai_operation_name="speech", model_group="tts") == 1
