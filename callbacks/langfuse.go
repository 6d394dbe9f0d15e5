package callbacks

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/llmvoy/llmvoy/config"
)

// langfuseSink sends a trace and a generation per request to Langfuse's
// public ingestion API (POST /api/public/ingestion, basic auth with the
// project's public and secret keys).
type langfuseSink struct {
	url  string
	auth string
	http *http.Client
}

func newLangfuse(s config.LangfuseSettings) *langfuseSink {
	return &langfuseSink{
		url:  s.Host + "/api/public/ingestion",
		auth: "Basic " + base64.StdEncoding.EncodeToString([]byte(s.PublicKey.Reveal()+":"+s.SecretKey.Reveal())),
		http: &http.Client{Timeout: exportLimit},
	}
}

// langfuseEvent is one item of an ingestion batch.
type langfuseEvent struct {
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	Type      string `json:"type"`
	Body      any    `json:"body"`
}

type langfuseTrace struct {
	ID        string            `json:"id"`
	Timestamp string            `json:"timestamp"`
	Name      string            `json:"name"`
	Input     json.RawMessage   `json:"input,omitempty"`
	Output    json.RawMessage   `json:"output,omitempty"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	Tags      []string          `json:"tags,omitempty"`
}

type langfuseUsage struct {
	Input  int    `json:"input"`
	Output int    `json:"output"`
	Total  int    `json:"total"`
	Unit   string `json:"unit"`
}

type langfuseGeneration struct {
	ID                  string             `json:"id"`
	TraceID             string             `json:"traceId"`
	Name                string             `json:"name"`
	StartTime           string             `json:"startTime"`
	EndTime             string             `json:"endTime"`
	CompletionStartTime string             `json:"completionStartTime,omitempty"`
	Model               string             `json:"model,omitempty"`
	Input               json.RawMessage    `json:"input,omitempty"`
	Output              json.RawMessage    `json:"output,omitempty"`
	Usage               *langfuseUsage     `json:"usage,omitempty"`
	UsageDetails        map[string]int     `json:"usageDetails,omitempty"`
	CostDetails         map[string]float64 `json:"costDetails,omitempty"`
	Metadata            map[string]string  `json:"metadata,omitempty"`
	Level               string             `json:"level"`
	StatusMessage       string             `json:"statusMessage,omitempty"`
}

func langfuseTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// langfuseEvents are r's trace-create and generation-create events.
func langfuseEvents(r *Record) []langfuseEvent {
	now := langfuseTime(time.Now())
	name := "litellm-" + r.CallType
	meta := map[string]string{
		"model_group": r.ModelGroup, "model_id": r.ModelID, "api_base": r.APIBase,
		"custom_llm_provider": r.Provider, "call_type": r.CallType,
	}
	if r.KeyHash != "" {
		meta["user_api_key_hash"] = r.KeyHash
	}
	if r.KeyAlias != "" {
		meta["user_api_key_alias"] = r.KeyAlias
	}
	if r.CacheHit {
		meta["cache_hit"] = "true"
	}
	in, out := rawJSON(messagesOf(r.Messages)), rawJSON(choicesOf(r.Response))
	tr := langfuseTrace{ID: r.RequestID, Timestamp: langfuseTime(r.Start), Name: name, Input: in, Output: out, Metadata: meta}
	if r.KeyAlias != "" {
		tr.Tags = []string{"key_alias:" + r.KeyAlias}
	}
	gen := langfuseGeneration{
		ID: r.RequestID + "-generation", TraceID: r.RequestID, Name: name,
		StartTime: langfuseTime(r.Start), EndTime: langfuseTime(r.End), Model: r.UpstreamModel,
		Input: in, Output: out, Metadata: meta, Level: "DEFAULT",
	}
	if r.FirstByte > 0 {
		gen.CompletionStartTime = langfuseTime(r.Start.Add(r.FirstByte))
	}
	if r.Usage {
		total := r.PromptTokens + r.CompletionTokens
		gen.Usage = &langfuseUsage{Input: r.PromptTokens, Output: r.CompletionTokens, Total: total, Unit: "TOKENS"}
		gen.UsageDetails = map[string]int{"input": r.PromptTokens, "output": r.CompletionTokens, "total": total}
		gen.CostDetails = map[string]float64{"total": r.Cost}
	}
	if r.Failed() {
		gen.Level, gen.StatusMessage = "ERROR", r.ErrorString()
	}
	return []langfuseEvent{
		{ID: uuid.NewString(), Timestamp: now, Type: "trace-create", Body: tr},
		{ID: uuid.NewString(), Timestamp: now, Type: "generation-create", Body: gen},
	}
}

// rawJSON is a stored body as JSON, nil when none is stored.
func rawJSON(s string) json.RawMessage {
	if s == "" || !json.Valid([]byte(s)) {
		return nil
	}
	return json.RawMessage(s)
}

func (l *langfuseSink) export(ctx context.Context, batch []Record) error {
	var events []langfuseEvent
	for i := range batch {
		events = append(events, langfuseEvents(&batch[i])...)
	}
	body, err := json.Marshal(map[string]any{"batch": events})
	if err != nil {
		return err
	}
	answer, err := post(ctx, l.http, l.url, map[string]string{"Authorization": l.auth}, "application/json", body)
	if err != nil {
		return err
	}
	// 207: each event's own outcome.
	var res struct {
		Errors []struct {
			Status  int    `json:"status"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(answer, &res) == nil && len(res.Errors) > 0 {
		return fmt.Errorf("langfuse refused %d of %d events (first: %d %s)", len(res.Errors), len(events), res.Errors[0].Status, res.Errors[0].Message)
	}
	return nil
}

func (l *langfuseSink) shutdown(context.Context) error { return nil }
