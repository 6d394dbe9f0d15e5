// Package pricing is the cost of a request in USD: the deployment's
// input_cost_per_token/output_cost_per_token from the config, else a
// built-in table of common models.
package pricing

import (
	"math"
	"strconv"
	"strings"

	"github.com/llmvoy/llmvoy/config"
)

// Price is a model's cost per token in USD.
type Price struct{ Input, Output float64 }

// For returns the deployment's price: the config's when it sets one, else
// the table's for its model; ok false when neither knows it.
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
	return Lookup(d.UpstreamModel)
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, n >= 0
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

// Lookup finds a model in the built-in table, by its name as the provider
// knows it ("gpt-4o", "claude-sonnet-4-20250514"); a Bedrock id's region
// prefix ("us.") and a dated OpenAI snapshot fall back to the base entry.
func Lookup(model string) (Price, bool) {
	m := strings.ToLower(model)
	if p, ok := table[m]; ok {
		return p, true
	}
	for _, region := range []string{"us.", "eu.", "apac.", "global."} {
		if rest, ok := strings.CutPrefix(m, region); ok {
			if p, ok := table[rest]; ok {
				return p, true
			}
		}
	}
	// gpt-4o-2024-08-06 is priced as gpt-4o by LiteLLM too.
	if i := strings.LastIndex(m, "-20"); i > 0 && len(m)-i == len("-2024-08-06") {
		if p, ok := table[m[:i]]; ok {
			return p, true
		}
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

// table holds list prices per token of common models, as LiteLLM's
// model_prices_and_context_window.json has them (standard tier, prompts
// under any long-context threshold), read in November 2026. A deployment
// with other prices sets input_cost_per_token/output_cost_per_token.
var table = map[string]Price{
	// OpenAI
	"gpt-4o":                 {2.5e-6, 1e-5},
	"gpt-4o-mini":            {1.5e-7, 6e-7},
	"gpt-4.1":                {2e-6, 8e-6},
	"gpt-4.1-mini":           {4e-7, 1.6e-6},
	"gpt-4.1-nano":           {1e-7, 4e-7},
	"gpt-4-turbo":            {1e-5, 3e-5},
	"gpt-3.5-turbo":          {5e-7, 1.5e-6},
	"o1":                     {1.5e-5, 6e-5},
	"o1-mini":                {1.1e-6, 4.4e-6},
	"o3":                     {2e-6, 8e-6},
	"o3-mini":                {1.1e-6, 4.4e-6},
	"o4-mini":                {1.1e-6, 4.4e-6},
	"text-embedding-3-small": {2e-8, 0},
	"text-embedding-3-large": {1.3e-7, 0},
	"text-embedding-ada-002": {1e-7, 0},
	// Anthropic
	"claude-opus-4-20250514":     {1.5e-5, 7.5e-5},
	"claude-sonnet-4-20250514":   {3e-6, 1.5e-5},
	"claude-3-7-sonnet-20250219": {3e-6, 1.5e-5},
	"claude-3-5-sonnet-20241022": {3e-6, 1.5e-5},
	"claude-3-5-haiku-20241022":  {8e-7, 4e-6},
	"claude-3-haiku-20240307":    {2.5e-7, 1.25e-6},
	"claude-3-opus-20240229":     {1.5e-5, 7.5e-5},
	// Bedrock ids of the same models
	"anthropic.claude-3-5-sonnet-20241022-v2:0": {3e-6, 1.5e-5},
	"anthropic.claude-3-haiku-20240307-v1:0":    {2.5e-7, 1.25e-6},
	"anthropic.claude-sonnet-4-20250514-v1:0":   {3e-6, 1.5e-5},
	"amazon.titan-embed-text-v2:0":              {2e-8, 0},
	// Google
	"gemini-2.5-pro":     {1.25e-6, 1e-5},
	"gemini-2.5-flash":   {3e-7, 2.5e-6},
	"gemini-2.0-flash":   {1e-7, 4e-7},
	"gemini-1.5-pro":     {1.25e-6, 5e-6},
	"gemini-1.5-flash":   {7.5e-8, 3e-7},
	"text-embedding-004": {0, 0},
	// DeepSeek, Mistral
	"deepseek-chat":        {2.7e-7, 1.1e-6},
	"deepseek-reasoner":    {5.5e-7, 2.19e-6},
	"mistral-large-latest": {2e-6, 6e-6},
	"mistral-small-latest": {1e-7, 3e-7},
}
