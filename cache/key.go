// Package cache is llmvoy's response cache, configured as LiteLLM's
// (litellm_settings.cache, cache_params): the key LiteLLM computes for a
// request, and the stores answers are kept in (in process, or in Redis
// shared by replicas).
package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
	"github.com/llmvoy/llmvoy/internal/pyrepr"
)

// keyParams are the request fields LiteLLM's cache key is made of
// (ModelParamHelper._get_all_llm_api_params): the fields of the OpenAI
// SDK's chat completion, text completion, embedding and transcription
// create params, and of LiteLLM's rerank request, less "metadata". Every
// other field (LiteLLM's own, such as "cache", or a provider's extras) does
// not change the key.
var keyParams = map[string]bool{}

func init() {
	for _, p := range strings.Fields(`
		messages model audio frequency_penalty function_call functions logit_bias logprobs
		max_completion_tokens max_tokens modalities n parallel_tool_calls prediction
		presence_penalty prompt_cache_key reasoning_effort response_format safety_identifier
		seed service_tier stop store stream stream_options temperature tool_choice tools
		top_logprobs top_p user verbosity web_search_options
		prompt best_of echo suffix
		input dimensions encoding_format
		file chunking_strategy include language timestamp_granularities
		query documents top_n rank_fields return_documents max_chunks_per_doc max_tokens_per_doc`) {
		keyParams[p] = true
	}
}

// contentParams go right after the model: LiteLLM's Router passes the
// model, then messages (prompt, input), then the rest of the request, and
// the key follows the order of its arguments.
var contentParams = []string{"messages", "prompt", "input"}

// Key is LiteLLM's cache key (Cache.get_cache_key) for a request whose
// top-level fields are fields, asked of model (the model group the client
// named: LiteLLM hashes metadata.model_group, not the deployment's
// model): for each key field that is not null, "name: str(value)",
// concatenated; the SHA-256 of that in hex; "<namespace>:" before it when
// there is a namespace. str() is Python's, of the value as Python's json
// module decodes it (see pyStr). An error is a body that is not JSON.
func Key(model string, fields []jsonscan.Field, namespace string) (string, error) {
	var b strings.Builder
	b.WriteString("model: ")
	b.WriteString(model)
	for _, name := range contentParams {
		if f, ok := jsonscan.Get(fields, name); ok {
			if err := writeParam(&b, f); err != nil {
				return "", err
			}
		}
	}
	for _, f := range fields {
		if f.Key == "model" || !keyParams[f.Key] || slices.Contains(contentParams, f.Key) {
			continue
		}
		if err := writeParam(&b, f); err != nil {
			return "", err
		}
	}
	sum := sha256.Sum256([]byte(b.String()))
	key := hex.EncodeToString(sum[:])
	if namespace != "" {
		key = namespace + ":" + key
	}
	return key, nil
}

func writeParam(b *strings.Builder, f jsonscan.Field) error {
	if jsonscan.IsNull(f.Value) {
		return nil
	}
	s, err := pyStr(f.Value)
	if err != nil {
		return fmt.Errorf("field %s: %w", f.Key, err)
	}
	b.WriteString(f.Key)
	b.WriteString(": ")
	b.WriteString(s)
	return nil
}

// pyStr is Python's str() of raw JSON as json.loads decodes it: a string
// is itself; anything else is its repr (dicts in the order of the JSON,
// True/False/None, ints as written, floats in repr's shortest form).
func pyStr(raw []byte) (string, error) {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	v, err := decodeOrdered(dec)
	if err != nil {
		return "", err
	}
	if s, ok := v.(string); ok {
		return s, nil
	}
	var b strings.Builder
	writeRepr(&b, v)
	return b.String(), nil
}

// object is a JSON object with its members in order; a key given twice
// keeps its first place and its last value, as in a Python dict.
type object struct {
	keys []string
	vals map[string]any
}

func decodeOrdered(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := object{vals: make(map[string]any)}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := decodeOrdered(dec)
				if err != nil {
					return nil, err
				}
				if _, seen := o.vals[k]; !seen {
					o.keys = append(o.keys, k)
				}
				o.vals[k] = v
			}
			_, err := dec.Token()
			return o, err
		case '[':
			var list []any
			for dec.More() {
				v, err := decodeOrdered(dec)
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			_, err := dec.Token()
			return list, err
		}
		return nil, errors.New("unexpected delimiter")
	case nil, bool, string, json.Number:
		return t, nil
	}
	return nil, io.ErrUnexpectedEOF
}

func writeRepr(b *strings.Builder, v any) {
	switch t := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if t {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case string:
		b.WriteString(pyrepr.Quote(t))
	case json.Number:
		b.WriteString(numberRepr(string(t)))
	case []any:
		b.WriteByte('[')
		for i, x := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, x)
		}
		b.WriteByte(']')
	case object:
		b.WriteByte('{')
		for i, k := range t.keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(pyrepr.Quote(k))
			b.WriteString(": ")
			writeRepr(b, t.vals[k])
		}
		b.WriteByte('}')
	}
}

// numberRepr is Python's repr of a JSON number as json.loads reads it: an
// int when it has no fraction or exponent, else a float.
func numberRepr(n string) string {
	if !strings.ContainsAny(n, ".eE") {
		if n == "-0" {
			return "0"
		}
		return n
	}
	f, err := strconv.ParseFloat(n, 64)
	if err != nil && !math.IsInf(f, 0) {
		return n
	}
	return pyrepr.Float(f)
}
