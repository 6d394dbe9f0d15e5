// Package messagesapi lets clients that speak Anthropic's Messages API
// (Claude Code, the Anthropic SDKs) call any deployment, through the hub
// format llmvoy speaks to every provider: OpenAI's Chat Completions.
// ToChat turns a POST /v1/messages body into a chat completions body; a
// Response turns one attempt's chat answer (a whole body or an SSE stream)
// back into a Messages answer or event stream; ErrorBody, FromOpenAIError
// and ErrorType give errors Anthropic's shape; CountTokens answers
// /v1/messages/count_tokens with an estimate. Bytes in, bytes out: no
// network, no Envoy types, no state shared between requests.
//
// # Deliberate differences from Anthropic's API
//
// An OpenAI-compatible server must never receive a field or block it does
// not know (most refuse the whole request), so ToChat copies what chat
// completions can express and drops the rest:
//
//   - thinking, context_management, output_config, top_k, service_tier,
//     container, mcp_servers and cache_control (on any block) are dropped:
//     they steer Anthropic's own models and servers. A deployment that
//     reasons says so with reasoning_content, which comes back as thinking
//     blocks with an empty signature.
//   - thinking and redacted_thinking blocks in the history are dropped: their
//     signatures only mean something to Anthropic.
//   - Anthropic's server tools (a tool with a type such as
//     web_search_20250305, web_fetch_*, bash_20250124, text_editor_*,
//     computer_*, code_execution_*, memory_*, tool_search_tool_*) are dropped,
//     as are tool fields chat completions has no place for (defer_loading,
//     cache_control, input_examples, strict) and $schema at the top of an
//     input_schema. Blocks that only Anthropic's servers produce
//     (server_tool_use, web_search_tool_result, ...) are dropped from
//     assistant turns.
//   - Text-only content goes as a string, several text blocks joined with a
//     blank line: every OpenAI-compatible server takes a string. Content
//     with images or documents goes as parts.
//   - Images in a tool_result go to a user message right after the tool
//     messages: chat completions' tool messages carry text only. The text
//     blocks of a tool_result are joined with a newline; is_error puts
//     "Error: " before them.
//   - A PDF document goes as a chat "file" part; a plain-text document as
//     text; documents and images by file_id (Files API) or a PDF by URL are
//     refused with a 400, since no chat server can fetch them.
//   - stop_sequences go as stop unchanged; OpenAI's own API refuses more
//     than four.
//   - max_tokens goes as max_tokens, which every OpenAI-compatible server
//     reads (the provider translators rename it where a provider needs).
//   - metadata.user_id goes as user, cut to 256 bytes.
//
// Answers:
//
//   - A tool call's arguments that are not a JSON object are kept, as the
//     tool_use input {"arguments": "<the raw string>"} rather than lost as
//     {}, so the client's tool reports the bad call and the model can retry.
//   - finish_reason maps stop→end_turn, length→max_tokens,
//     tool_calls/function_call→tool_use, content_filter→refusal, anything
//     else→end_turn; stop_sequence is always null (chat does not say which
//     sequence stopped it).
//   - usage.input_tokens is prompt_tokens less the cached tokens, which are
//     cache_read_input_tokens (and cache_creation_input_tokens where a
//     server reports them), as LiteLLM's Anthropic adapter reads them.
//   - A context-length error gets Anthropic's "prompt is too long" words in
//     front of the deployment's message: Claude Code compacts its
//     conversation on them.
package messagesapi
