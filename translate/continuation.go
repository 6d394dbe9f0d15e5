package translate

import (
	"bytes"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// ContinueInstruction is the user message a provider without a way to
// continue an assistant message gets after the answer so far.
const ContinueInstruction = "Your previous message was cut off. Continue it exactly where it stopped, without repeating anything and without any preamble."

// Continuation turns a chat completion request whose last message is the
// assistant's answer so far (package relay's continuation of a cut stream)
// into d's way of continuing it, still in OpenAI's format for d's
// translator: Mistral's and DeepSeek's `prefix: true` on that message,
// vLLM's `continue_final_message`, Anthropic's prefill as it is; any other
// provider gets ContinueInstruction as a last user message.
func Continuation(d *config.Deployment, body []byte) []byte {
	fields, err := jsonscan.Fields(body)
	if err != nil {
		return body
	}
	f, ok := jsonscan.Get(fields, "messages")
	if !ok {
		return body
	}
	msgs := bytes.TrimSpace(f.Value)
	if len(msgs) < 2 || msgs[len(msgs)-1] != ']' {
		return body
	}
	head := bytes.TrimRight(msgs[:len(msgs)-1], " \t\r\n")
	switch {
	case d.API == config.APIAnthropic || d.API == config.APIVertexAnthropic:
		return body
	case d.API == config.APIOpenAI && (d.Provider == "mistral" || d.Provider == "deepseek"):
		if len(head) == 0 || head[len(head)-1] != '}' {
			return body
		}
		out := append(append([]byte(nil), head[:len(head)-1]...), `,"prefix":true}]`...)
		return jsonscan.Set(body, fields, "messages", out)
	case d.API == config.APIOpenAI && (d.Provider == "hosted_vllm" || d.Provider == "vllm"):
		body = jsonscan.Set(body, fields, "continue_final_message", []byte("true"))
		if fields, err = jsonscan.Fields(body); err != nil {
			return body
		}
		return jsonscan.Set(body, fields, "add_generation_prompt", []byte("false"))
	}
	out := append(append([]byte(nil), head...), `,{"role":"user","content":`...)
	out = jsonscan.AppendString(out, ContinueInstruction)
	out = append(out, "}]"...)
	return jsonscan.Set(body, fields, "messages", out)
}

// ResponsesContinuation is Continuation for a Responses request sent as it
// is (OpenAI's own Responses API): its input ends with the answer so far
// as the assistant's message, which the API does not continue by itself,
// so the instruction follows as the user's.
func ResponsesContinuation(body []byte) []byte {
	fields, err := jsonscan.Fields(body)
	if err != nil {
		return body
	}
	f, ok := jsonscan.Get(fields, "input")
	list := bytes.TrimSpace(f.Value)
	if !ok || len(list) < 2 || list[len(list)-1] != ']' {
		return body
	}
	out := append(append([]byte(nil), bytes.TrimRight(list[:len(list)-1], " \t\r\n")...), `,{"type":"message","role":"user","content":`...)
	out = jsonscan.AppendString(out, ContinueInstruction)
	out = append(out, "}]"...)
	return jsonscan.Set(body, fields, "input", out)
}
