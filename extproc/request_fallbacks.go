package extproc

import (
	"encoding/json"
	"fmt"
	"slices"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// requestFallbacks reads the body's "fallbacks", LiteLLM's client-side
// fallbacks: the models to try in order when the requested one fails after
// its retries, replacing its group's generic chain for this request. The
// forms LiteLLM documents: ["a", "b"]; [{"model": "a"}, ...]; and the
// router's own [{"requested": ["a", "b"]}] (or "*"). Names no group serves
// are left out, as is the requested group itself (LiteLLM skips it); a name
// a virtual key may not use refuses the request, as the requested model
// would. nil when the body names none that can serve.
func (g *gateway) requestFallbacks(fields []jsonscan.Field, model string) ([]string, *extprocv3.ProcessingResponse) {
	f, ok := jsonscan.Get(fields, "fallbacks")
	if !ok || string(f.Value) == "null" {
		return nil, nil
	}
	invalid := func(msg string) ([]string, *extprocv3.ProcessingResponse) {
		return nil, replyError(apiError{Status: 400, Type: "invalid_request_error", Param: "fallbacks", Message: "fallbacks: " + msg})
	}
	var items []json.RawMessage
	if json.Unmarshal(f.Value, &items) != nil {
		return invalid(`want a list of model names, e.g. ["gpt-4o-mini"]`)
	}
	origin := g.state.resolve(model)
	var listed, mapped, generic []string
	for _, item := range items {
		var name string
		if json.Unmarshal(item, &name) == nil {
			listed = append(listed, name)
			continue
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(item, &m) != nil || len(m) == 0 {
			return invalid("want model names, or objects naming a model")
		}
		if raw, ok := m["model"]; ok && json.Unmarshal(raw, &name) == nil {
			if len(m) > 1 {
				// LiteLLM sends that fallback with these parameters
				// instead; Envoy replays the request's own body.
				return invalid(`parameters for a fallback other than its "model" are not supported`)
			}
			listed = append(listed, name)
			continue
		}
		for key, raw := range m {
			var chain []string
			if json.Unmarshal(raw, &chain) != nil {
				return invalid(`want {"model": "name"} or {"model group": ["name", ...]}`)
			}
			switch key {
			case model, origin:
				mapped = chain
			case "*":
				generic = chain
			}
		}
	}
	names := listed
	if mapped != nil {
		names = mapped
	} else if names == nil {
		names = generic
	}
	var chain []string
	for _, name := range names {
		if len(name) > maxEchoed {
			// The chain travels in a request header.
			return invalid(fmt.Sprintf("a model name longer than %d bytes", maxEchoed))
		}
		group := g.state.resolve(name)
		if _, ok := g.state.groups[group]; !ok || group == origin {
			continue
		}
		if !g.mayCall(name, group) {
			return nil, replyError(modelDenied(g.caller.key, name, "fallbacks"))
		}
		chain = append(chain, name)
	}
	if n := min(len(chain), g.state.cfg.Router.MaxFallbacks); n > 0 {
		return slices.Clip(chain[:n]), nil
	}
	return nil, nil
}
