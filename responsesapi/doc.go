// Package responsesapi lets clients of OpenAI's Responses API (Codex CLI,
// the OpenAI Agents SDK, client.responses.create/stream in the OpenAI SDKs)
// use any deployment, through the hub format llmvoy speaks to every
// provider: OpenAI Chat Completions. ToChat turns a POST /v1/responses body
// into a chat completion body; NewResponse returns the
// translate.ResponseTranslator that turns the chat answer of one attempt,
// whole or streamed, back into a Responses API response object or event
// stream. Bytes in, bytes out: no network, no Envoy types, no state shared
// between requests.
//
// # Deliberate differences from OpenAI's Responses API
//
// A translator keeps no state (the gateway keeps stored responses: Tap,
// Conversation and Continue in store.go are its tools), and a chat
// completion deployment has none of OpenAI's hosted tools, so:
//
//   - ToChat refuses previous_response_id with ErrNeedsStore (the gateway
//     makes such a request whole with Continue first), and item_reference
//     input items with ErrBadRequest.
//   - store, include, prompt_cache_key, client_metadata, metadata,
//     truncation, service_tier, background and text.verbosity are not sent
//     to the deployment; store and metadata are echoed in the response as
//     the client sent them, as OpenAI does.
//   - reasoning is not sent: many chat-only servers reject reasoning_effort,
//     and a deployment's reasoning is configured on the deployment. It is
//     echoed in the response. Reasoning the deployment returns
//     (reasoning_content) comes back as a reasoning item with a summary.
//   - reasoning input items are dropped: their encrypted_content means
//     something to OpenAI only.
//   - Built-in tools are dropped, not refused, so an agent that always sends
//     them (Codex sends web_search) still works: web_search,
//     web_search_preview, file_search, code_interpreter, computer_use_preview,
//     image_generation, local_shell, shell, apply_patch, mcp and custom
//     (freeform) tools, and custom tools inside a namespace. A tool_choice
//     naming a dropped tool becomes "auto"; tool_choice and
//     parallel_tool_calls are not sent when no function tool is left, as
//     chat completions refuse them without tools.
//   - A namespace tool's functions are flattened into chat functions named
//     namespace__name (Codex's own flat spelling); the function_call items
//     that come back carry name and namespace apart again, as OpenAI's do.
//     The namespace's description is not sent.
//   - file_id references (input_file, input_image) and file_url are refused:
//     there is no file store behind the gateway; send file_data or a data URL.
//   - Images in a function_call_output cannot travel in a chat tool message:
//     they follow the tool messages as a user message.
//   - A refusal from the deployment comes back as output text.
//   - output_text, the SDKs' convenience, is left to the SDKs.
//   - A stream the deployment ends without a finish_reason, or with an error
//     event, ends with response.failed, never silently cut; Chunk never
//     returns an error.
package responsesapi
