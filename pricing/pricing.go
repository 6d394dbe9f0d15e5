// Package pricing is the cost of a request in USD and what is known of a
// deployment's model: the deployment's input_cost_per_token and
// output_cost_per_token from the config, else a built-in table of common
// models in the shape of LiteLLM's model_prices_and_context_window.json.
package pricing

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/llmvoy/llmvoy/config"
)

// Price is a model's cost per token in USD.
type Price struct{ Input, Output float64 }

// For returns the deployment's price: litellm_params' when it sets one,
// else model_info's, else the table's for its model; ok false when none
// knows it.
func For(d *config.Deployment) (p Price, ok bool) {
	if d.InputCostPerToken > 0 || d.OutputCostPerToken > 0 {
		return Price{d.InputCostPerToken, d.OutputCostPerToken}, true
	}
	// LiteLLM reads them from model_info too.
	in, inOK := number(d.Info["input_cost_per_token"])
	out, outOK := number(d.Info["output_cost_per_token"])
	if inOK || outOK {
		return Price{in, out}, true
	}
	if _, e, ok := find(d); ok {
		return e.price, true
	}
	return Price{}, false
}

// Cost is what a request with these tokens cost on d; known false (and
// cost 0) when its price is unknown.
func Cost(d *config.Deployment, promptTokens, completionTokens int) (usd float64, known bool) {
	p, ok := For(d)
	if !ok {
		return 0, false
	}
	return float64(promptTokens)*p.Input + float64(completionTokens)*p.Output, true
}

// Info is the deployment's price per token in USD, as /model/info and
// /model_group/info report it (the price Cost charges).
func Info(d *config.Deployment) (in, out float64, ok bool) {
	p, ok := For(d)
	return p.Input, p.Output, ok
}

// Model returns the table's entry for the deployment's model: LiteLLM's
// key for it and a copy of its fields under LiteLLM's names
// (max_input_tokens, mode, supports_vision, ...). ok false when the table
// does not know the model.
func Model(d *config.Deployment) (key string, fields map[string]any, ok bool) {
	key, e, ok := find(d)
	if !ok {
		return "", nil, false
	}
	return key, maps.Clone(e.fields), true
}

// Lookup finds a model in the table by its name as the provider knows it
// ("gpt-4o", "claude-sonnet-4-20250514", "anthropic.claude-3-haiku-20240307-v1:0").
func Lookup(model string) (Price, bool) {
	_, e, ok := lookup("", model)
	return e.price, ok
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, n >= 0 && !math.IsInf(n, 0) && !math.IsNaN(n)
	case int:
		return float64(n), n >= 0
	case int64:
		return float64(n), n >= 0
	case string:
		// PyYAML reads 2e-06 (no dot) as a string; LiteLLM's pydantic
		// models take it as a number, and so does llmvoy.
		f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		return f, err == nil && f >= 0 && !math.IsInf(f, 0)
	}
	return 0, false
}

// find looks the deployment's model up: model_info.base_model first (what
// LiteLLM prices Azure deployments by, whose model is a deployment name),
// then the upstream model.
func find(d *config.Deployment) (string, entry, bool) {
	if base, ok := d.Info["base_model"].(string); ok && base != "" {
		provider, model := d.Provider, base
		if p, m, cut := strings.Cut(base, "/"); cut {
			provider, model = p, m
		}
		if key, e, ok := lookup(provider, model); ok {
			return key, e, true
		}
	}
	return lookup(d.Provider, d.UpstreamModel)
}

// lookup tries the names LiteLLM files a model under: "provider/model"
// (deepseek/deepseek-chat, gemini/gemini-2.5-pro), then the bare model.
// Bedrock's converse/ and invoke/ routes are not part of the name; a
// cross-region inference profile (us., eu., ...) falls back to the model's
// own entry, and a dated OpenAI snapshot (gpt-4o-2024-11-20) to its base
// model's when the table has no entry of its own.
func lookup(provider, model string) (string, entry, bool) {
	m := strings.ToLower(model)
	for _, route := range []string{"converse/", "invoke/"} {
		m = strings.TrimPrefix(m, route)
	}
	var names []string
	if provider != "" {
		names = append(names, provider+"/"+m)
	}
	names = append(names, m)
	if provider == "vertex_ai" {
		// Gemini on Vertex AI has the list prices of Google AI Studio;
		// the table holds some Gemini models under gemini/ only.
		names = append(names, "gemini/"+m)
	}
	for _, name := range names {
		if e, ok := table[name]; ok {
			if provider == "vertex_ai" && strings.HasPrefix(name, "gemini/") {
				// Reported as LiteLLM files Gemini on Vertex AI.
				e.fields = maps.Clone(e.fields)
				e.fields["litellm_provider"] = "vertex_ai-language-models"
			}
			return name, e, true
		}
	}
	for _, name := range names {
		for _, region := range []string{"us.", "eu.", "apac.", "global.", "jp.", "au."} {
			if rest, ok := strings.CutPrefix(name, region); ok {
				if e, ok := table[rest]; ok {
					return rest, e, true
				}
			}
		}
		if loc := snapshotDate.FindStringIndex(name); loc != nil {
			if e, ok := table[name[:loc[0]]]; ok {
				return name[:loc[0]], e, true
			}
		}
	}
	return "", entry{}, false
}

// snapshotDate is the date suffix of OpenAI's snapshots (gpt-4o-2024-11-20).
var snapshotDate = regexp.MustCompile(`-\d{4}-\d{2}-\d{2}$`)

// entry is one model of the table.
type entry struct {
	price Price
	// fields are the model's fields as LiteLLM names them.
	fields map[string]any
}

// modelsJSON holds list prices and limits of common models, copied from
// LiteLLM's model_prices_and_context_window.json (github.com/BerriAI/litellm
// at commit 00035b69f416be24e2e323c13198d9b7d2d1bdf9, read in November 2026):
// standard tier, prompts under any long-context threshold, and only the
// fields the info endpoints report. Two exceptions: claude-3-5-sonnet-20241022
// and claude-3-5-haiku-20241022 are retired and gone from that file, so
// their entries carry the numbers of the same models' Bedrock entries. A
// deployment with other prices sets input_cost_per_token and
// output_cost_per_token in its config.
//
// Cross-region Bedrock profiles (us., eu., ...) of the newest Claude models
// cost 10% more than the model's own entry, which is what lookup falls back
// to; deployments on them should set their prices.
//
//go:embed models.json
var modelsJSON []byte

var table = mustLoad(modelsJSON)

func mustLoad(b []byte) map[string]entry {
	t, err := load(b)
	if err != nil {
		panic(err)
	}
	return t
}

func load(b []byte) (map[string]entry, error) {
	var raw map[string]map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("pricing: models.json: %w", err)
	}
	t := make(map[string]entry, len(raw))
	for name, fields := range raw {
		in, inOK := number(fields["input_cost_per_token"])
		out, outOK := number(fields["output_cost_per_token"])
		if !inOK || !outOK {
			return nil, fmt.Errorf("pricing: models.json: %s has no input_cost_per_token and output_cost_per_token", name)
		}
		if name != strings.ToLower(name) {
			return nil, fmt.Errorf("pricing: models.json: %s: names are looked up lowercased", name)
		}
		// Token counts are whole numbers; JSON decoding made them floats.
		for k, v := range fields {
			if f, ok := v.(float64); ok && strings.HasPrefix(k, "max_") && f == math.Trunc(f) {
				fields[k] = int64(f)
			}
		}
		t[name] = entry{price: Price{in, out}, fields: fields}
	}
	return t, nil
}

// Provider is the provider LiteLLM's table files a bare model name under
// ("gpt-4o" → openai, "claude-sonnet-4-5" → anthropic), as LiteLLM infers
// it for a model requested without a prefix; "" when the table does not
// know the name.
func Provider(model string) string {
	e, ok := table[strings.ToLower(model)]
	if !ok {
		return ""
	}
	p, _ := e.fields["litellm_provider"].(string)
	switch {
	case strings.HasPrefix(p, "bedrock"):
		return "bedrock"
	case strings.HasPrefix(p, "vertex_ai"):
		return "vertex_ai"
	}
	return p
}
