package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/translate"
)

// healthTimeout bounds /health: every deployment is probed at once, and a
// deployment that has not answered by then is reported unhealthy.
const healthTimeout = 5 * time.Second

type healthReport struct {
	Healthy        []endpointHealth `json:"healthy_endpoints"`
	Unhealthy      []endpointHealth `json:"unhealthy_endpoints"`
	HealthyCount   int              `json:"healthy_count"`
	UnhealthyCount int              `json:"unhealthy_count"`
}

type endpointHealth struct {
	Model     string `json:"model"`
	ModelName string `json:"model_name"`
	ModelID   string `json:"model_id"`
	APIBase   string `json:"api_base"`
	Error     string `json:"error,omitempty"`
}

// health answers LiteLLM's /health: it probes every deployment and reports
// which answered. The probe lists the provider's models, which costs no
// tokens (LiteLLM sends a completion instead). Credentials never appear in
// the report.
func (h *Handler) health(ctx context.Context, _ Request) (any, error) {
	cfg := h.Config
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	results := make([]endpointHealth, len(cfg.Deployments))
	var wg sync.WaitGroup
	for i, d := range cfg.Deployments {
		wg.Go(func() {
			results[i] = endpointHealth{Model: d.LiteLLMModel(), ModelName: d.ModelName, ModelID: d.ID, APIBase: d.PublicAPIBase()}
			if err := probe(ctx, d); err != nil {
				results[i].Error = err.Error()
			}
		})
	}
	wg.Wait()
	r := healthReport{Healthy: []endpointHealth{}, Unhealthy: []endpointHealth{}}
	for _, e := range results {
		if e.Error == "" {
			r.Healthy = append(r.Healthy, e)
		} else {
			r.Unhealthy = append(r.Unhealthy, e)
		}
	}
	r.HealthyCount, r.UnhealthyCount = len(r.Healthy), len(r.Unhealthy)
	return r, nil
}

func probe(ctx context.Context, d *config.Deployment) error {
	tr, err := translate.For(d)
	if err != nil {
		return err
	}
	head, err := tr.RequestHead(d, "/models", "")
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.APIBase.Scheme+"://"+head.Authority+head.Path, nil)
	if err != nil {
		return err
	}
	for _, h := range head.Set {
		req.Header.Set(h.Key, h.Value)
	}
	// Errors name the deployment's address without its query string, which
	// can hold a credential (an api_base's ?key=, a signed URL), and never
	// its headers.
	where := req.URL.Scheme + "://" + req.URL.Host + req.URL.Path
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("GET %s: %w", where, err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("GET %s: %s", where, resp.Status)
	}
	return nil
}
