package extproc

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/translate"
	"github.com/llmvoy/llmvoy/xds"
)

// state is everything the processors derive from one config, computed once
// per (re)load instead of once per request.
type state struct {
	cfg *config.Config
	// prev is the config before the last reload. Envoy may still pick an
	// endpoint of the old config for a moment after a reload; attempts on it
	// are served rather than failed.
	prev   *config.Config
	groups map[string]group
	// groupNames in config order, for error messages.
	groupNames []string
	// modelsBody is the /v1/models answer; modelIDs are the ids it lists.
	modelsBody []byte
	modelIDs   []string
	// hasFallbacks: some group has a fallback chain.
	hasFallbacks bool
	masterKey    [sha256.Size]byte
	hasKey       bool
}

type group struct {
	cluster string
	// deployments are the ids of the group's servable deployments.
	deployments []string
	// streamTimeout is the per-attempt timeout of streaming requests:
	// litellm_params.stream_timeout when every deployment sets one (the
	// largest), else 0.
	streamTimeout time.Duration
	// maxInputTokens is the largest prompt a deployment of the group takes;
	// 0 when a deployment does not say.
	maxInputTokens int
	// unservable explains why no deployment of the group can be served
	// (its providers are not supported yet); empty when servable.
	unservable string
	// bodyModel is set when every deployment of the group is
	// OpenAI-compatible and wants this same model, and the group has no
	// fallbacks: the gateway then writes the model into the body once
	// (except on a fallback's pass into the group), and the attempts skip
	// their body phase (one ext_proc round trip less).
	bodyModel string
	// direct is set when the group's attempts can skip the upstream
	// processor (see xds.DirectGroup) and Envoy has the route for it.
	direct      *xds.Direct
	directRoute string
}

// model is an entry of /v1/models.
type model struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func modelsList(models []model) []byte {
	b, _ := json.Marshal(struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{"list", models})
	return b
}

// modelsFor is the /v1/models answer for a caller: a virtual key limited to
// some models sees those (and the aliases of their groups), as in LiteLLM.
func (st *state) modelsFor(c caller) []byte {
	if c.key == nil || len(c.key.Models) == 0 {
		return st.modelsBody
	}
	models := []model{}
	for _, id := range st.modelIDs {
		if c.key.Allows(id) || c.key.Allows(st.resolve(id)) {
			models = append(models, model{ID: id, Object: "model", Created: liteLLMModelCreated, OwnedBy: "openai"})
		}
	}
	return modelsList(models)
}

// liteLLMModelCreated is the "created" timestamp LiteLLM reports for every
// model group in /v1/models; clients that diff the two gateways see no change.
const liteLLMModelCreated = 1677610602

func newState(cfg, prev *config.Config) *state {
	st := &state{cfg: cfg, prev: prev, groups: make(map[string]group)}
	models := []model{}
	for _, name := range cfg.Groups() {
		g := group{cluster: xds.ClusterName(name)}
		var reasons []string
		servable := false
		for _, d := range cfg.Group(name) {
			if _, err := translate.For(d); err != nil {
				reasons = append(reasons, err.Error())
			} else {
				servable = true
				g.deployments = append(g.deployments, d.ID)
			}
		}
		if !servable {
			g.unservable = strings.Join(reasons, "; ")
		}
		g.maxInputTokens = maxInputTokens(cfg, g.deployments)
		if !cfg.Router.HasFallbacks(name) {
			g.bodyModel = xds.UniformModel(cfg.Group(name))
		}
		if d, ok := xds.DirectGroup(cfg, name); ok && wasDirect(prev, name) {
			g.direct, g.directRoute = &d, xds.DirectRouteName(name)
		}
		g.streamTimeout = streamTimeout(cfg.Group(name))
		st.groups[name] = g
		st.hasFallbacks = st.hasFallbacks || cfg.Router.HasFallbacks(name)
		st.groupNames = append(st.groupNames, name)
		models = append(models, model{ID: name, Object: "model", Created: liteLLMModelCreated, OwnedBy: "openai"})
	}
	// LiteLLM lists aliases beside the groups, except hidden ones.
	aliases := slices.Sorted(maps.Keys(cfg.Router.Aliases))
	for _, name := range aliases {
		if _, isGroup := st.groups[name]; !isGroup && !cfg.Router.Aliases[name].Hidden {
			models = append(models, model{ID: name, Object: "model", Created: liteLLMModelCreated, OwnedBy: "openai"})
		}
	}
	st.modelsBody = modelsList(models)
	for _, m := range models {
		st.modelIDs = append(st.modelIDs, m.ID)
	}
	if key := cfg.General.MasterKey.Reveal(); key != "" {
		st.masterKey, st.hasKey = sha256.Sum256([]byte(key)), true
	}
	return st
}

// wasDirect reports whether a group was direct before this reload. The
// processor learns a config before Envoy does, so a group that just became
// direct has no direct route in Envoy yet: it keeps the other route until
// the next reload.
func wasDirect(prev *config.Config, group string) bool {
	if prev == nil {
		return true
	}
	_, ok := xds.DirectGroup(prev, group)
	return ok
}

// streamTimeout is the largest stream_timeout of the deployments, 0 when
// one of them sets none.
func streamTimeout(ds []*config.Deployment) time.Duration {
	var most time.Duration
	for _, d := range ds {
		if d.StreamTimeout == 0 {
			return 0
		}
		most = max(most, d.StreamTimeout)
	}
	return most
}

// maxInputTokens is the largest prompt any of the deployments takes, 0 when
// one of them does not say (it may take anything).
func maxInputTokens(cfg *config.Config, ids []string) int {
	most := 0
	for _, id := range ids {
		n := cfg.Deployment(id).MaxInputTokens
		if n == 0 {
			return 0
		}
		most = max(most, n)
	}
	return most
}

// resolve maps a requested model to its model group: an alias's group, else
// the name itself.
func (st *state) resolve(model string) string {
	if a, ok := st.cfg.Router.Aliases[model]; ok {
		return a.Group
	}
	return model
}

// available reports whether a group has a deployment that is neither
// cooling down nor past its rpm.
func (st *state) available(name string, cooling map[string]time.Time, overLimit map[string]bool) bool {
	for _, id := range st.groups[name].deployments {
		if _, ok := cooling[id]; !ok && !overLimit[id] {
			return true
		}
	}
	return false
}

// deployment finds a deployment by id in this config or the previous one.
func (st *state) deployment(id string) *config.Deployment {
	if d := st.cfg.Deployment(id); d != nil {
		return d
	}
	if st.prev != nil {
		return st.prev.Deployment(id)
	}
	return nil
}

// authorized checks a presented key against the master key in constant
// time: both sides are hashed first so neither the length nor a prefix of
// the key leaks through timing.
func (st *state) authorized(presented string) bool {
	if !st.hasKey {
		return true
	}
	h := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(h[:], st.masterKey[:]) == 1
}

// maxEchoedModel is how much of a model name an error repeats.
const maxEchoedModel = 256

// echoModel is a client's model name as an error names it: not echoed
// whole when it is long.
func echoModel(model string) string {
	if len(model) <= maxEchoedModel {
		return model
	}
	return strings.ToValidUTF8(model[:maxEchoedModel], "") + "..."
}

// unknownModel is the answer for a model the caller cannot use: it names
// only the groups the caller may call, so a restricted key learns nothing
// of the others.
func (st *state) unknownModel(model string, c caller) apiError {
	names := st.groupNames
	if c.key != nil && len(c.key.Models) > 0 {
		names = slices.DeleteFunc(slices.Clone(names), func(g string) bool { return !c.key.Allows(g) })
	}
	return apiError{
		Status: 400,
		Message: fmt.Sprintf("Invalid model name passed in model=%s. Call `/v1/models` to view available models for your key. Available model groups: %s",
			echoModel(model), strings.Join(names, ", ")),
		Type:  "invalid_request_error",
		Param: "model",
		Code:  "model_not_found",
	}
}
