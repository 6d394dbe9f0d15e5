package translate

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmvoy/llmvoy/config"
)

func TestContinuationPerProvider(t *testing.T) {
	body := []byte(`{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"Once"}]}`)
	cases := []struct {
		d    config.Deployment
		want string
	}{
		{config.Deployment{API: config.APIAnthropic, Provider: "anthropic"}, string(body)},
		{config.Deployment{API: config.APIOpenAI, Provider: "mistral"},
			`{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"Once","prefix":true}]}`},
		{config.Deployment{API: config.APIOpenAI, Provider: "deepseek"},
			`{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"Once","prefix":true}]}`},
		{config.Deployment{API: config.APIOpenAI, Provider: "hosted_vllm"},
			`{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"Once"}],"continue_final_message":true,"add_generation_prompt":false}`},
		{config.Deployment{API: config.APIOpenAI, Provider: "openai"},
			`{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"Once"},{"role":"user","content":"` + ContinueInstruction + `"}]}`},
		{config.Deployment{API: config.APIGemini, Provider: "gemini"},
			`{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"Once"},{"role":"user","content":"` + ContinueInstruction + `"}]}`},
	}
	for _, c := range cases {
		t.Run(c.d.Provider, func(t *testing.T) {
			require.JSONEq(t, c.want, string(Continuation(&c.d, body)))
		})
	}
}
