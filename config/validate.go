package config

// checkIDs rejects two deployments with one id: the router finds the
// deployment Envoy picked by its id. Two generated ids collide only when the
// entries are identical, which LiteLLM would also treat as one deployment.
func (p *parser) checkIDs(ds []*Deployment, origins []origin) {
	first := make(map[string]origin, len(ds))
	for i, d := range ds {
		if d.ID == "" { // the entry has errors already
			continue
		}
		o := origins[i]
		prev, dup := first[d.ID]
		switch {
		case !dup:
			first[d.ID] = o
		case o.explicit:
			p.errorf(o.line, o.path+".model_info.id", "duplicate id %q, also used by %s", d.ID, prev.path)
		default:
			p.errorf(o.line, o.path, "same model_name and litellm_params as %s, so the same id %s; remove one or set model_info.id", prev.path, d.ID)
		}
	}
}
