package pricing

import "github.com/llmvoy/llmvoy/config"

// Media is a deployment's price of what the media endpoints make or read,
// in USD, from its model_info under LiteLLM's names: output_cost_per_image
// (image generation and edits), input_cost_per_character (text to speech),
// input_cost_per_second (transcription, of the audio's length),
// input_cost_per_query (rerank, per search unit). Zero when unset: the
// built-in table has no media models.
type Media struct{ PerImage, PerCharacter, PerSecond, PerQuery float64 }

// MediaFor returns d's media prices.
func MediaFor(d *config.Deployment) Media {
	var m Media
	m.PerImage, _ = number(d.Info["output_cost_per_image"])
	m.PerCharacter, _ = number(d.Info["input_cost_per_character"])
	m.PerSecond, _ = number(d.Info["input_cost_per_second"])
	m.PerQuery, _ = number(d.Info["input_cost_per_query"])
	return m
}
