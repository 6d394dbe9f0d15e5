package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"testing"

	"github.com/llmvoy/llmvoy/config"
)

// FuzzOpenAIRequestBody checks the OpenAI translator's body rewrite against
// encoding/json: it accepts exactly the bodies that are JSON objects, the
// body it returns is valid JSON whose top-level "model" is the deployment's
// model, and every other top-level member goes through unchanged.
func FuzzOpenAIRequestBody(f *testing.F) {
	for _, seed := range []struct {
		body, model string
	}{
		{`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, "gpt-4o-2024-08-06"},
		{`{"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello"}],"stream":true,"stream_options":{"include_usage":true},"temperature":0.7}`, "gpt-4o-mini"},
		{`{"model":"text-embedding-3-small","input":["The food was delicious","and the waiter..."],"encoding_format":"float"}`, "text-embedding-3-small"},
		{`{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="}}]}],"max_tokens":300}`, "meta-llama/Llama-3.2-11B-Vision-Instruct"},
		{`{"model":"llama","tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}}],"tool_choice":"auto","messages":[]}`, "llama3.1:8b"},
		{`{"model":"gpt-3.5-turbo-instruct","prompt":"Say this is a test","max_tokens":7,"temperature":0}`, "gpt-3.5-turbo-instruct"},
		{`{"model":"a","messages":[],"model":"b"}`, "c"},
		{`{"mod\u0065l":"x","model":"y"}`, "mo\"del\u2028"},
		{` {"messages":[]} `, "deepseek-chat"},
		{`{}`, "qwen-plus"},
		{`[1]`, "x"},
		{`{"model":`, "x"},
		{"{\"model\":\"\xff\"}", "\xfe\xff"},
	} {
		f.Add([]byte(seed.body), seed.model)
	}
	base, _ := url.Parse("http://h:1/v1")
	f.Fuzz(func(t *testing.T, body []byte, model string) {
		d := &config.Deployment{ID: "dep", API: config.APIOpenAI, Provider: "openai", UpstreamModel: model, APIBase: base}
		orig := bytes.Clone(body)
		got, _, err := openAI{}.RequestBody(d, ChatCompletions, body)
		if !bytes.Equal(orig, body) {
			t.Fatalf("the client's body was modified")
		}

		isObject := json.Valid(body) && bytes.TrimLeft(body, " \t\r\n")[0] == '{'
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error %v does not wrap ErrBadRequest", err)
			}
			if got != nil {
				t.Fatalf("body returned with an error")
			}
			if isObject {
				t.Fatalf("valid object rejected: %v", err)
			}
			return
		}
		if !isObject {
			t.Fatalf("accepted %q, which is not a JSON object", body)
		}

		// What the deployment's model is once sent as JSON (invalid UTF-8
		// becomes U+FFFD).
		var wantModel string
		enc, _ := json.Marshal(model)
		if err := json.Unmarshal(enc, &wantModel); err != nil {
			t.Fatal(err)
		}

		sent := got
		if got == nil {
			sent = body
		} else if !json.Valid(got) {
			t.Fatalf("invalid JSON %q from %q", got, body)
		}
		var before, after map[string]json.RawMessage
		if err := json.Unmarshal(body, &before); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(sent, &after); err != nil {
			t.Fatalf("decode %q: %v", sent, err)
		}
		var gotModel string
		if err := json.Unmarshal(after["model"], &gotModel); err != nil {
			t.Fatalf("model %s is not a string (body %q, nil=%v)", after["model"], sent, got == nil)
		}
		if gotModel != wantModel {
			t.Fatalf("model %q, want %q (body %q, nil=%v)", gotModel, wantModel, sent, got == nil)
		}
		delete(before, "model")
		delete(after, "model")
		if len(before) != len(after) {
			t.Fatalf("members changed: %q -> %q", body, sent)
		}
		for k, v := range before {
			if !bytes.Equal(v, after[k]) {
				t.Fatalf("member %q changed: %s -> %s", k, v, after[k])
			}
		}
	})
}
