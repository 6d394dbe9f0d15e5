package jsonscan

import (
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// chatBody is an ordinary chat completion request of about 1 KB.
const chatBody = `{
  "model": "gpt-4o",
  "messages": [
    {"role": "system", "content": "You are a helpful assistant. Answer briefly and cite sources when you can."},
    {"role": "user", "content": "What is the capital of France, and what is its population?"},
    {"role": "assistant", "content": "Paris. About 2.1 million people live in the city proper."},
    {"role": "user", "content": "And the metropolitan area? Please also mention the \"Grand Paris\" project."}
  ],
  "tools": [
    {"type": "function", "function": {"name": "get_population", "description": "Population of a city",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "year": {"type": "integer"}},
      "required": ["city"]}}}
  ],
  "tool_choice": "auto",
  "temperature": 0.7,
  "top_p": 1,
  "max_tokens": 512,
  "n": 1,
  "stream": true,
  "stream_options": {"include_usage": true},
  "user": "user-1234"
}`

// imageBody returns a request of about 1 MB, nearly all of it one base64
// image inside messages.
func imageBody() []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	img := make([]byte, 750_000)
	for i := range img {
		img[i] = byte(rng.Uint32())
	}
	return []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":[` +
		`{"type":"text","text":"What is in this image?"},` +
		`{"type":"image_url","image_url":{"url":"data:image/png;base64,` + base64.StdEncoding.EncodeToString(img) + `"}}]}],` +
		`"stream":true,"stream_options":{"include_usage":true},"max_tokens":300}`)
}

func benchBodies() []struct {
	name string
	body []byte
} {
	return []struct {
		name string
		body []byte
	}{
		{"chat_1KB", []byte(chatBody)},
		{"image_1MB", imageBody()},
	}
}

func BenchmarkFields(b *testing.B) {
	for _, bb := range benchBodies() {
		b.Run(bb.name+"/jsonscan", func(b *testing.B) {
			b.SetBytes(int64(len(bb.body)))
			b.ReportAllocs()
			for b.Loop() {
				fields, err := Fields(bb.body)
				if err != nil {
					b.Fatal(err)
				}
				model, _ := Get(fields, "model")
				if s, ok := String(model.Value); !ok || s != "gpt-4o" {
					b.Fatal("model not found")
				}
				stream, _ := Get(fields, "stream")
				if v, ok := Bool(stream.Value); !ok || !v {
					b.Fatal("stream not found")
				}
			}
		})
		b.Run(bb.name+"/encoding_json_unmarshal", func(b *testing.B) {
			b.SetBytes(int64(len(bb.body)))
			b.ReportAllocs()
			for b.Loop() {
				var m map[string]any
				if err := json.Unmarshal(bb.body, &m); err != nil {
					b.Fatal(err)
				}
				if m["model"] != "gpt-4o" || m["stream"] != true {
					b.Fatal("model or stream not found")
				}
			}
		})
		// json.Valid does no more than the validation Fields must do, so it
		// is the floor to compare with.
		b.Run(bb.name+"/encoding_json_valid", func(b *testing.B) {
			b.SetBytes(int64(len(bb.body)))
			b.ReportAllocs()
			for b.Loop() {
				if !json.Valid(bb.body) {
					b.Fatal("invalid")
				}
			}
		})
	}
}

func BenchmarkSetModel(b *testing.B) {
	const newModel = "gpt-4o-2024-08-06"
	for _, bb := range benchBodies() {
		b.Run(bb.name+"/jsonscan", func(b *testing.B) {
			b.SetBytes(int64(len(bb.body)))
			b.ReportAllocs()
			for b.Loop() {
				fields, err := Fields(bb.body)
				if err != nil {
					b.Fatal(err)
				}
				out := Set(bb.body, fields, "model", QuoteString(newModel))
				if len(out) == 0 {
					b.Fatal("empty")
				}
			}
		})
		// Per upstream attempt the body has already been scanned once for
		// the request, so only the splice is paid again.
		b.Run(bb.name+"/jsonscan_set_only", func(b *testing.B) {
			fields, err := Fields(bb.body)
			if err != nil {
				b.Fatal(err)
			}
			model := QuoteString(newModel)
			b.SetBytes(int64(len(bb.body)))
			b.ReportAllocs()
			for b.Loop() {
				if out := Set(bb.body, fields, "model", model); len(out) == 0 {
					b.Fatal("empty")
				}
			}
		})
		b.Run(bb.name+"/encoding_json", func(b *testing.B) {
			b.SetBytes(int64(len(bb.body)))
			b.ReportAllocs()
			for b.Loop() {
				var m map[string]any
				if err := json.Unmarshal(bb.body, &m); err != nil {
					b.Fatal(err)
				}
				m["model"] = newModel
				out, err := json.Marshal(m)
				if err != nil {
					b.Fatal(err)
				}
				if len(out) == 0 {
					b.Fatal("empty")
				}
			}
		})
	}
}

func BenchmarkQuoteString(b *testing.B) {
	for _, s := range []string{"gpt-4o-2024-08-06", strings.Repeat("é\"x", 20)} {
		b.Run("", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = QuoteString(s)
			}
		})
	}
}
