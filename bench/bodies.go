package main

import (
	"encoding/base64"
	"math/rand/v2"
	"net/http"
	"strings"
)

// chatBody is an ordinary chat completion request of about 1 KB: a system
// prompt, a few turns, one tool and the usual sampling parameters.
func chatBody(stream bool) []byte {
	tail := `"stream":false`
	if stream {
		tail = `"stream":true,"stream_options":{"include_usage":true}`
	}
	return []byte(`{"model":"` + benchModel + `","messages":[` +
		`{"role":"system","content":"You are a helpful travel assistant. Answer briefly, cite sources when you can, and ask a clarifying question when the request is ambiguous."},` +
		`{"role":"user","content":"I am flying into Lisbon on Friday evening and leaving on Monday morning. What should I not miss?"},` +
		`{"role":"assistant","content":"Belem Tower and the Jeronimos Monastery, the Alfama district with a fado evening, a tram 28 ride, and a day trip to Sintra if the weather is good."},` +
		`{"role":"user","content":"Sintra sounds great. How do I get there from the city centre, and how long should I plan for it?"}],` +
		`"tools":[{"type":"function","function":{"name":"get_train_times","description":"Train departures between two stations",` +
		`"parameters":{"type":"object","properties":{"from":{"type":"string"},"to":{"type":"string"},"date":{"type":"string","format":"date"}},"required":["from","to"]}}}],` +
		`"tool_choice":"auto","temperature":0.7,"top_p":1,"max_tokens":512,"n":1,"user":"user-1234",` + tail + `}`)
}

// messagesBody is chatBody(true) as Anthropic's Messages API has it, as
// Claude Code sends it (always streaming).
func messagesBody() []byte {
	return []byte(`{"model":"` + benchModel + `","max_tokens":512,"stream":true,` +
		`"system":[{"type":"text","text":"You are a helpful travel assistant. Answer briefly, cite sources when you can, and ask a clarifying question when the request is ambiguous."}],` +
		`"messages":[` +
		`{"role":"user","content":"I am flying into Lisbon on Friday evening and leaving on Monday morning. What should I not miss?"},` +
		`{"role":"assistant","content":[{"type":"text","text":"Belem Tower and the Jeronimos Monastery, the Alfama district with a fado evening, a tram 28 ride, and a day trip to Sintra if the weather is good."}]},` +
		`{"role":"user","content":[{"type":"text","text":"Sintra sounds great. How do I get there from the city centre, and how long should I plan for it?"}]}],` +
		`"tools":[{"name":"get_train_times","description":"Train departures between two stations",` +
		`"input_schema":{"type":"object","properties":{"from":{"type":"string"},"to":{"type":"string"},"date":{"type":"string","format":"date"}},"required":["from","to"]}}],` +
		`"tool_choice":{"type":"auto"},"temperature":0.7,"top_p":1,"metadata":{"user_id":"user-1234"}}`)
}

// visionBody is a chat completion carrying one base64 image, about size
// bytes in all, as vision requests from the OpenAI SDK look.
func visionBody(size int) []byte {
	head := `{"model":"` + benchModel + `","messages":[{"role":"user","content":[` +
		`{"type":"text","text":"What is in this image?"},` +
		`{"type":"image_url","image_url":{"url":"data:image/png;base64,`
	tail := `"}}]}],"max_tokens":300,"stream":false}`
	n := max(size-len(head)-len(tail), 4) / 4 * 3 // base64 makes 4 bytes of 3
	rng := rand.New(rand.NewPCG(1, 2))
	img := make([]byte, n)
	for i := range img {
		img[i] = byte(rng.Uint32())
	}
	var b strings.Builder
	b.Grow(size + 8)
	b.WriteString(head)
	b.WriteString(base64.StdEncoding.EncodeToString(img))
	b.WriteString(tail)
	return []byte(b.String())
}

// requestHeader is what an OpenAI SDK sends, with key, else the gateway's
// master key. The mock and plain Envoy ignore the key; llmvoy and LiteLLM
// check it.
func requestHeader(key string) http.Header {
	if key == "" {
		key = masterKey
	}
	return http.Header{
		"Content-Type":  {"application/json"},
		"Accept":        {"application/json"},
		"Authorization": {"Bearer " + key},
		"User-Agent":    {"llmvoy-bench"},
	}
}
