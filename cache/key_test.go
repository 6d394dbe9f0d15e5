package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// The expected keys were computed with Python the way LiteLLM computes
// them (litellm/caching/caching.py, Cache.get_cache_key: for each kwarg in
// ModelParamHelper._get_all_llm_api_params() that is not None,
// f"{param}: {str(value)}", model replaced by metadata.model_group;
// hashlib.sha256 of the string, hexdigest; "<namespace>:" before it), on
// json.loads of the body, with the Router's argument order: model, then
// messages (prompt, input), then the rest of the body.
func TestKeyIsLiteLLMs(t *testing.T) {
	for _, tc := range []struct {
		model, namespace, body, str, key string
	}{
		{
			model: "gpt-4o", namespace: "",
			body: `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":0.7,"stream":false,"metadata":{"a":1},"cache":{"no-cache":true}}`,
			str:  "model: gpt-4omessages: [{'role': 'user', 'content': 'hi'}]temperature: 0.7stream: False",
			key:  "6cd0bf7e09aed26e722f369c4012ae792912dd1ca10ddeda0828c30b34f4abd8",
		},
		{
			model: "g", namespace: "",
			body: `{"temperature":1,"model":"g","user":null,"messages":[{"role":"system","content":"it's \"quoted\"\n\tünï € \u00a0\u200b\u0007"}],"max_tokens":100}`,
			str:  "model: gmessages: [{'role': 'system', 'content': 'it\\'s \"quoted\"\\n\\tünï € \\xa0\\u200b\\x07'}]temperature: 1max_tokens: 100",
			key:  "6426f66208fb19072231358e167966ae2017fb770266bad254c97822cbdd1300",
		},
		{
			model: "g", namespace: "team1",
			body: `{"model":"g","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","strict":true,"parameters":{"type":"object","x":null,"min":1e-05,"big":1e16,"f":100.0,"n":-0,"e":12345678901234567890,"p":0.0001,"k":1.5e300}}}],"seed":42}`,
			str:  "model: gmessages: [{'role': 'user', 'content': 'x'}]tools: [{'type': 'function', 'function': {'name': 'f', 'strict': True, 'parameters': {'type': 'object', 'x': None, 'min': 1e-05, 'big': 1e+16, 'f': 100.0, 'n': 0, 'e': 12345678901234567890, 'p': 0.0001, 'k': 1.5e+300}}}]seed: 42",
			key:  "team1:7bcad6e9eb50d7d90d3f8f886213517059ff0505b3590d29fe1cc3301536a7bb",
		},
		{
			model: "emb", namespace: "",
			body: `{"model":"emb","input":["a","b"],"encoding_format":"float","dimensions":256}`,
			str:  "model: embinput: ['a', 'b']encoding_format: floatdimensions: 256",
			key:  "ff525d509faffedb278774e948747e922279d73809ea40c70dd156ebaad6b03c",
		},
		{
			model: "text", namespace: "",
			body: `{"model":"text","prompt":"Say 'hi'","stream":true,"stream_options":{"include_usage":true},"caching":false}`,
			str:  "model: textprompt: Say 'hi'stream: Truestream_options: {'include_usage': True}",
			key:  "5c3415e29de23dda55122623fada95b678264506c732c8a583c5949293e4f9b7",
		},
		{
			model: "g", namespace: "",
			body: `{"model":"g","messages":[{"role":"user","content":"dup"}],"response_format":{"type":"json_object","type":"text"}}`,
			str:  "model: gmessages: [{'role': 'user', 'content': 'dup'}]response_format: {'type': 'text'}",
			key:  "cc935817d68c675888d6e77ef99c050e365d7d7c9dae9c0ad335a77cef495d77",
		},
	} {
		t.Run(tc.model, func(t *testing.T) {
			fields, err := jsonscan.Fields([]byte(tc.body))
			require.NoError(t, err)
			got, err := Key(tc.model, fields, tc.namespace)
			require.NoError(t, err)
			sum := sha256.Sum256([]byte(tc.str))
			require.Equal(t, hex.EncodeToString(sum[:]), tc.key[len(tc.key)-64:], "the test's own string and key agree")
			require.Equal(t, tc.key, got)
		})
	}
}

func TestPyStr(t *testing.T) {
	for raw, want := range map[string]string{
		`"plain"`:                       "plain",
		`["a\\b", "it's", "say \"x\""]`: `['a\\b', "it's", 'say "x"']`,
		`{"k": [true, false, null]}`:    `{'k': [True, False, None]}`,
		`[]`:                            `[]`,
		`{}`:                            `{}`,
		`[0.1, 1.0, 1e22, 1.5e-7, -2.5, 0.0, -0.0, 123456789012345678]`: `[0.1, 1.0, 1e+22, 1.5e-07, -2.5, 0.0, -0.0, 123456789012345678]`,
		`[1e15, 1e16, 0.001, 0.0001, 0.00001]`:                          `[1000000000000000.0, 1e+16, 0.001, 0.0001, 1e-05]`,
		`["\u0000\u001f\u007f\u0085 \ud83d\ude00 \u2028"]`:              `['\x00\x1f\x7f\x85 😀 \u2028']`,
	} {
		got, err := pyStr([]byte(raw))
		require.NoError(t, err)
		require.Equal(t, want, got, raw)
	}
}

// Any JSON object gets a key, the same one every time, and a namespace only
// prefixes it.
func FuzzKey(f *testing.F) {
	for _, seed := range []string{`{"model":"m","messages":[{"role":"user","content":"hi"}]}`, `{"input":[1,2.5e-9,null,true]}`, `{"prompt":"\u00e9\u2028'\"\\"}`, `{}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fields, err := jsonscan.Fields(body)
		if err != nil {
			return
		}
		k1, err := Key("g", fields, "")
		if err != nil {
			t.Fatalf("valid JSON %q: %v", body, err)
		}
		k2, _ := Key("g", fields, "ns")
		if len(k1) != 64 || k2 != "ns:"+k1 {
			t.Fatalf("keys %q and %q", k1, k2)
		}
	})
}
