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
	"github.com/llmvoy/llmvoy/plan"
)

// state is everything the processors derive from one config, computed once
// per (re)load instead of once per request. The per-group facts are the
// plan's; state adds what only the processors need.
type state struct {
	plan *plan.Plan
	cfg  *config.Config
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
	masterKey  [sha256.Size]byte
	hasKey     bool
}

// group is a model group as the gateway routes to it.
type group struct {
	*plan.Group
	// directRoute is the route on which the group's attempts skip the
	// upstream processor (plan.Group.Direct), set once Envoy has it.
	directRoute string
	// hopRoute and hopStreamRoute are the group's routes through the
	// fallback hop (every group has them), for requests with a next step
	// in their chain, set once Envoy has them; hopStreamRoute for streams
	// with a stream_timeout.
	hopRoute, hopStreamRoute string
	// relayRoute is the group's route through llmvoy's relay
	// (plan.Group.Relay), set once Envoy has it.
	relayRoute string
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

func newState(p, prev *plan.Plan) *state {
	st := &state{plan: p, cfg: p.Config, groups: make(map[string]group)}
	if prev != nil {
		st.prev = prev.Config
	}
	models := []model{}
	for _, pg := range p.Groups {
		g := group{Group: pg}
		if pg.Direct != nil && wasDirect(prev, pg.Name) {
			g.directRoute = plan.DirectRouteName(pg.Name)
		}
		if prev := hadHop(prev, pg.Name); prev != nil {
			g.hopRoute = plan.HopRouteName(pg.Name)
			if pg.StreamTimeout > 0 && prev.StreamTimeout > 0 {
				g.hopStreamRoute = plan.HopStreamRouteName(pg.Name)
			}
		}
		if pg.Relay && (prev == nil || prev.Group(pg.Name) != nil && prev.Group(pg.Name).Relay) {
			g.relayRoute = plan.RelayRouteName(pg.Name)
		}
		st.groups[pg.Name] = g
		if slices.Contains(p.Config.DeploymentGroups, pg.Name) {
			// One deployment a fallback names: not a model group the
			// client is shown.
			continue
		}
		st.groupNames = append(st.groupNames, pg.Name)
		models = append(models, model{ID: pg.Name, Object: "model", Created: liteLLMModelCreated, OwnedBy: "openai"})
	}
	// LiteLLM lists aliases beside the groups, except hidden ones.
	aliases := slices.Sorted(maps.Keys(p.Config.Router.Aliases))
	for _, name := range aliases {
		if _, isGroup := st.groups[name]; !isGroup && !p.Config.Router.Aliases[name].Hidden {
			models = append(models, model{ID: name, Object: "model", Created: liteLLMModelCreated, OwnedBy: "openai"})
		}
	}
	st.modelsBody = modelsList(models)
	for _, m := range models {
		st.modelIDs = append(st.modelIDs, m.ID)
	}
	if key := p.Config.General.MasterKey.Reveal(); key != "" {
		st.masterKey, st.hasKey = sha256.Sum256([]byte(key)), true
	}
	return st
}

// hadHop is the group as the previous config planned it, when it had its
// routes through the fallback hop then (every group has them: a group the
// previous config had), or the group of this config, on the first one;
// nil for a group new in this config. As for direct routes, Envoy gets the
// hop routes after the processor learns the config.
func hadHop(prev *plan.Plan, group string) *plan.Group {
	if prev == nil {
		return &plan.Group{StreamTimeout: 1}
	}
	return prev.Group(group)
}

// wasDirect reports whether a group was direct before this reload. The
// processor learns a config before Envoy does, so a group that just became
// direct has no direct route in Envoy yet: it keeps the other route until
// the next reload.
func wasDirect(prev *plan.Plan, group string) bool {
	if prev == nil {
		return true
	}
	g := prev.Group(group)
	return g != nil && g.Direct != nil
}

// resolve maps a requested model to its model group (see route).
func (st *state) resolve(model string) string {
	group, _ := st.route(model)
	return group
}

// available reports whether a group has a deployment that is neither
// cooling down nor past its rpm.
func (st *state) available(name string, cooling map[string]time.Time, overLimit map[string]bool) bool {
	for _, id := range st.groups[name].Routable {
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

// maxEchoed is how much of a client's string (a model name, a response
// id) an error repeats.
const maxEchoed = 256

// echoed is a client's string as an error names it: not repeated whole
// when it is long.
func echoed(s string) string {
	if len(s) <= maxEchoed {
		return s
	}
	return strings.ToValidUTF8(s[:maxEchoed], "") + "..."
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
			echoed(model), strings.Join(names, ", ")),
		Type:  "invalid_request_error",
		Param: "model",
		Code:  "model_not_found",
	}
}
