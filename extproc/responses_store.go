package extproc

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
	"github.com/llmvoy/llmvoy/keys"
	"github.com/llmvoy/llmvoy/responsesapi"
)

// The Responses API's stored responses (store, its default;
// previous_response_id; GET and DELETE /v1/responses/{id}), kept in the key
// store for the caller that made them: a virtual key finds only its own,
// the master key only the master key's. Without a key store nothing is
// kept, and previous_response_id is refused.

// responseStoreWait bounds the key store's part of a request.
const responseStoreWait = 2 * time.Second

// responses is the key store's responses, nil without one.
func (s *Server) responses() *keys.Store {
	if s.keys == nil {
		return nil
	}
	return s.keys.Store()
}

// callerToken is who a stored response belongs to: the virtual key's
// token, "" for the master key.
func (c caller) token() string {
	if c.key != nil {
		return c.key.Token
	}
	return ""
}

// continueResponse makes a request (body, whose top-level fields are
// fields) naming previous_response_id whole (the stored conversation, then
// its own input); nil body when it names none.
func (g *gateway) continueResponse(body []byte, fields []jsonscan.Field) ([]byte, *apiError) {
	prev := responsesapi.PreviousResponseID(fields)
	if prev == "" {
		return nil, nil
	}
	store := g.server.responses()
	if store == nil {
		return nil, &apiError{Status: 400, Type: "invalid_request_error", Param: "previous_response_id",
			Message: "previous_response_id needs llmvoy's response store, which needs a key store (general_settings.master_key); send the whole conversation in input instead, as with store: false"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), responseStoreWait)
	defer cancel()
	stored, err := store.GetResponse(ctx, prev, g.caller.token())
	switch {
	case errors.Is(err, keys.ErrResponseNotFound):
		return nil, &apiError{Status: 404, Type: "invalid_request_error", Param: "previous_response_id", Code: "previous_response_not_found",
			Message: "Previous response with id '" + echoed(prev) + "' not found."}
	case err != nil:
		g.server.log.Error("response store", "err", err)
		return nil, &apiError{Status: 503, Type: "service_unavailable", Message: "llmvoy's response store did not answer; retry shortly"}
	}
	out, err := responsesapi.Continue(body, stored.Conversation)
	if err != nil {
		return nil, &apiError{Status: 400, Type: "invalid_request_error", Message: err.Error()}
	}
	return out, nil
}

// storedResponse answers GET and DELETE /v1/responses/{id}.
func (g *gateway) storedResponse(method, id string) *extprocv3.ProcessingResponse {
	notFound := apiError{Status: 404, Type: "invalid_request_error", Code: "not_found", Message: "Response with id '" + echoed(id) + "' not found."}
	store := g.server.responses()
	if store == nil {
		return replyError(notFound)
	}
	ctx, cancel := context.WithTimeout(context.Background(), responseStoreWait)
	defer cancel()
	switch method {
	case http.MethodGet:
		r, err := store.GetResponse(ctx, id, g.caller.token())
		if errors.Is(err, keys.ErrResponseNotFound) {
			return replyError(notFound)
		} else if err != nil {
			g.server.log.Error("response store", "err", err)
			return replyError(apiError{Status: 503, Type: "service_unavailable", Message: "llmvoy's response store did not answer; retry shortly"})
		}
		return reply(200, "application/json", r.Response)
	case http.MethodDelete:
		err := store.DeleteResponse(ctx, id, g.caller.token())
		if errors.Is(err, keys.ErrResponseNotFound) {
			return replyError(notFound)
		} else if err != nil {
			g.server.log.Error("response store", "err", err)
			return replyError(apiError{Status: 503, Type: "service_unavailable", Message: "llmvoy's response store did not answer; retry shortly"})
		}
		return replyJSON(200, map[string]any{"id": id, "object": "response", "deleted": true})
	}
	return replyError(apiError{Status: 405, Type: "invalid_request_error", Message: "method " + method + " not allowed on /v1/responses/{id}; use GET or DELETE"})
}

// keepResponse keeps the answer the tap saw, if it completed, and stops
// reading.
func (u *upstream) keepResponse() {
	final := u.tap.Final()
	u.tap = nil
	if final == nil {
		return
	}
	var obj struct {
		ID string `json:"id"`
	}
	conv, err := responsesapi.Conversation(u.responsesRequest, final)
	if err != nil || json.Unmarshal(final, &obj) != nil {
		u.server.log.Warn("response not kept", "deployment", u.deployment.ID, "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), responseStoreWait)
	defer cancel()
	err = u.server.responses().PutResponse(ctx, keys.StoredResponse{ID: obj.ID, APIKey: u.callerToken,
		Response: final, Conversation: conv, CreatedAt: time.Now()})
	if err != nil {
		u.server.log.Error("response not kept", "response_id", obj.ID, "err", err)
	}
}

// tapAnswer feeds the answer on its way to the client to the tap of a
// Responses answer to keep, and keeps it as soon as it completed: before
// the piece that completes it reaches the client (a client may send the
// request continuing it the moment it reads response.completed).
func (u *upstream) tapAnswer(out []byte, end bool) {
	u.cacheAnswer(out, end) // the response cache's, cache.go
	if u.tap == nil {
		return
	}
	u.tap.Write(out, end)
	if end || u.tap.Final() != nil {
		u.keepResponse()
	}
}
