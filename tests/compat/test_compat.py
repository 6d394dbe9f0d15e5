"""The differential suite: each case of cases.py is sent to the real LiteLLM
proxy and to llmvoy, both on the same config in front of the same recording
upstreams, and what the client sees and what the providers receive are
compared aspect by aspect. Every difference must be one docs/compat.md lists
(with LiteLLM's and llmvoy's values as listed), and every listed difference
must still be there: a fixed one fails until the list is updated."""

import json
import os
import pathlib
import re

import pytest

from cases import CASES, CONFIGS
from harness import start_pair
from observe import differences, observe

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "compat.md"


@pytest.fixture(scope="module")
def pairs(upstreams, procs, log_dir):
    started = {}

    def get(config):
        if config not in started:
            started[config] = start_pair(config, CONFIGS[config], upstreams, procs, log_dir)
        return started[config]
    return get


def documented_rows():
    return set(re.findall(r"^\| `([a-z0-9-]+)` \|", DOC.read_text(), re.M))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_same_as_litellm(case, pairs, upstreams):
    litellm, llmvoy = pairs(case.config)
    seen = differences(observe(litellm, upstreams, case.request), observe(llmvoy, upstreams, case.request))
    if os.environ.get("COMPAT_SEEN"):  # a file to collect every case's differences in, for updating the list
        with open(os.environ["COMPAT_SEEN"], "a") as f:
            f.write(json.dumps({"case": case.id, "seen": seen}) + "\n")
    unlisted = {k: v for k, v in seen.items() if not any(d.matches(k, *v) for d in case.known)}
    assert not unlisted, f"differences docs/compat.md does not list (aspect: (LiteLLM, llmvoy)): {unlisted}"
    gone = {d.row for d in case.known} - {d.row for d in case.known for k, v in seen.items() if d.matches(k, *v)}
    assert not gone, f"listed differences no longer seen: update docs/compat.md and cases.py: {gone}"
    undocumented = {d.row for d in case.known} - documented_rows()
    assert not undocumented, f"rows cases.py names but docs/compat.md lacks: {undocumented}"
