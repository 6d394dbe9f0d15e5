package callbacks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/llmvoy/llmvoy/config"
)

// webhookSink POSTs LiteLLM's StandardLoggingPayload (its generic_api
// callback): a JSON array per batch (log_format json_array), one object a
// line (ndjson), or a request per record (single).
type webhookSink struct {
	url     string
	headers map[string]string
	format  string
	http    *http.Client
}

func newWebhook(s config.WebhookSettings) *webhookSink {
	return &webhookSink{url: s.Endpoint, headers: reveal(s.Headers), format: s.Format, http: &http.Client{Timeout: exportLimit}}
}

// payload is the part of LiteLLM's StandardLoggingPayload llmvoy knows.
type payload struct {
	ID                  string          `json:"id"`
	TraceID             string          `json:"trace_id"`
	CallType            string          `json:"call_type"`
	Stream              bool            `json:"stream"`
	ResponseCost        float64         `json:"response_cost"`
	Status              string          `json:"status"`
	TotalTokens         int             `json:"total_tokens"`
	PromptTokens        int             `json:"prompt_tokens"`
	CompletionTokens    int             `json:"completion_tokens"`
	StartTime           float64         `json:"startTime"`
	EndTime             float64         `json:"endTime"`
	CompletionStartTime float64         `json:"completionStartTime"`
	ResponseTime        float64         `json:"response_time"`
	Model               string          `json:"model"`
	ModelID             string          `json:"model_id"`
	ModelGroup          string          `json:"model_group"`
	APIBase             string          `json:"api_base"`
	CustomLLMProvider   string          `json:"custom_llm_provider"`
	Metadata            payloadMetadata `json:"metadata"`
	Messages            json.RawMessage `json:"messages"`
	Response            json.RawMessage `json:"response"`
	ErrorStr            *string         `json:"error_str"`
	CacheHit            bool            `json:"cache_hit"`
}

type payloadMetadata struct {
	UserAPIKeyHash  *string `json:"user_api_key_hash"`
	UserAPIKeyAlias *string `json:"user_api_key_alias"`
	UserAPIKeyName  *string `json:"user_api_key_name,omitempty"`
	RequestRoute    string  `json:"user_api_key_request_route"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// epoch is a time as LiteLLM's payload has it: seconds since the epoch.
func epoch(r *Record, t float64) float64 { return float64(r.Start.UnixMicro())/1e6 + t }

// payloadOf is r as LiteLLM's StandardLoggingPayload.
func payloadOf(r *Record) payload {
	status := "success"
	if r.Failed() {
		status = "failure"
	}
	p := payload{
		ID: r.RequestID, TraceID: r.RequestID, CallType: r.CallType, Stream: r.Stream, Status: status,
		ResponseCost: r.Cost, PromptTokens: r.PromptTokens, CompletionTokens: r.CompletionTokens,
		TotalTokens: r.PromptTokens + r.CompletionTokens,
		StartTime:   epoch(r, 0), EndTime: epoch(r, r.End.Sub(r.Start).Seconds()),
		ResponseTime: r.End.Sub(r.Start).Seconds(),
		Model:        r.UpstreamModel, ModelID: r.ModelID, ModelGroup: r.ModelGroup, APIBase: r.APIBase,
		CustomLLMProvider: r.Provider,
		Metadata: payloadMetadata{
			UserAPIKeyHash: optional(r.KeyHash), UserAPIKeyAlias: optional(r.KeyAlias), UserAPIKeyName: optional(r.KeyName),
			RequestRoute: r.Path,
		},
		Messages: rawJSON(messagesOf(r.Messages)), Response: rawJSON(r.Response), ErrorStr: optional(r.ErrorString()),
		CacheHit: r.CacheHit,
	}
	p.CompletionStartTime = p.EndTime
	if r.FirstByte > 0 {
		p.CompletionStartTime = epoch(r, r.FirstByte.Seconds())
	}
	return p
}

func (w *webhookSink) export(ctx context.Context, batch []Record) error {
	out := make([]payload, len(batch))
	for i := range batch {
		out[i] = payloadOf(&batch[i])
	}
	switch w.format {
	case "ndjson":
		var body bytes.Buffer
		enc := json.NewEncoder(&body)
		for _, p := range out {
			if err := enc.Encode(p); err != nil {
				return err
			}
		}
		_, err := post(ctx, w.http, w.url, w.headers, "application/x-ndjson", body.Bytes())
		return err
	case "single":
		var errs []error
		for _, p := range out {
			body, err := json.Marshal(p)
			if err == nil {
				_, err = post(ctx, w.http, w.url, w.headers, "application/json", body)
			}
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}
	body, err := json.Marshal(out)
	if err != nil {
		return err
	}
	_, err = post(ctx, w.http, w.url, w.headers, "application/json", body)
	return err
}

func (w *webhookSink) shutdown(context.Context) error { return nil }

// post sends body and returns the answer's body (its first 64 KiB); an
// error for a status other than 2xx, with the status and the start of the
// answer, never the request's headers.
func post(ctx context.Context, c *http.Client, url string, headers map[string]string, contentType string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		msg := strings.TrimSpace(string(answer))
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return nil, fmt.Errorf("%s answered %d: %s", req.URL.Redacted(), resp.StatusCode, msg)
	}
	return answer, nil
}
