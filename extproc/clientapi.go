package extproc

import (
	"errors"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/llmvoy/llmvoy/messagesapi"
	"github.com/llmvoy/llmvoy/responsesapi"
	"github.com/llmvoy/llmvoy/translate"
)

// The agent clients' APIs (Anthropic's Messages, OpenAI's Responses) reach
// a deployment that speaks them natively as they are (translate.NativeAPI),
// and every other deployment through the hub: the request becomes a chat
// completion for the deployment's translator, and the answer, once in
// OpenAI's chat format, becomes the client API's again.

// countTokens is Anthropic's token counting: Anthropic's own for a group
// of Anthropic deployments, else answered here with an estimate.
const countTokens = translate.CountTokens

// isAgentAPI reports whether ep is one of the agent clients' APIs.
func isAgentAPI(ep translate.Endpoint) bool {
	return ep == translate.Messages || ep == translate.Responses || ep == countTokens
}

// bridged is an agent API request as a chat completion, made once by the
// gateway and reused by every attempt that needs it.
type bridged struct {
	chat []byte
	// answer makes an attempt's translator of the chat answer back into
	// the client's API (each attempt's has its own state).
	answer func() translate.ResponseTranslator
}

// bridge turns an agent API request into a chat completion.
func bridge(ep translate.Endpoint, body []byte) (*bridged, error) {
	switch ep {
	case translate.Messages:
		chat, req, err := messagesapi.ToChat(body)
		if err != nil {
			return nil, err
		}
		return &bridged{chat, func() translate.ResponseTranslator { return messagesapi.NewResponse(req) }}, nil
	case translate.Responses:
		chat, req, err := responsesapi.ToChat(body)
		if err != nil {
			return nil, err
		}
		return &bridged{chat, func() translate.ResponseTranslator { return responsesapi.NewResponse(req) }}, nil
	}
	return nil, errors.New("llmvoy: no bridge for " + string(ep))
}

// checkAgentRequest refuses an agent API request no deployment could take,
// before it is routed: the client gets the 400 once, in its API's shape.
// The request as a chat completion comes back for the attempts.
func checkAgentRequest(ep translate.Endpoint, body []byte) (*bridged, *apiError) {
	if ep == countTokens {
		if _, err := messagesapi.CountTokens(body); err != nil {
			return nil, &apiError{Status: 400, Message: err.Error(), Type: "invalid_request_error"}
		}
		return nil, nil
	}
	b, err := bridge(ep, body)
	if err != nil {
		msg := err.Error()
		if errors.Is(err, responsesapi.ErrNeedsStore) {
			msg = "previous_response_id is not supported: llmvoy keeps no responses (send the whole conversation in input, as with store: false)"
		}
		return nil, &apiError{Status: 400, Message: msg, Type: "invalid_request_error"}
	}
	return b, nil
}

// countsNatively reports whether every deployment of a group counts tokens
// itself (Anthropic's API): then count_tokens goes to the deployment.
func countsNatively(g group) bool {
	for _, d := range g.Deployments {
		if !translate.NativeAPI(d, countTokens) {
			return false
		}
	}
	return len(g.Deployments) > 0
}

// inClientShape rewrites an OpenAI-shaped error llmvoy answers itself into
// the client API's shape: Anthropic's for Messages clients (Claude Code
// reads error.type). Responses clients read OpenAI's shape already.
func inClientShape(ep translate.Endpoint, resp *extprocv3.ProcessingResponse) *extprocv3.ProcessingResponse {
	if ep != translate.Messages && ep != countTokens {
		return resp
	}
	im := resp.GetImmediateResponse()
	if im == nil {
		return resp
	}
	status := int(im.GetStatus().GetCode())
	if status < 400 {
		return resp
	}
	im.Body = messagesapi.FromOpenAIError(status, im.GetBody())
	return resp
}
