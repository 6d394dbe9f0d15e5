package config

import "fmt"

// LiteLLM's credential_list: named sets of litellm_params
// (credential_values: api_key, api_base, api_version, aws_*, vertex_*, ...)
// that a deployment takes by naming one in litellm_params'
// litellm_credential_name. As in LiteLLM's load_credentials_from_list, a
// credential fills in only the keys the deployment leaves out, and then
// the provider's environment variables fill in what is still missing. The
// deployment's id hashes its own litellm_params, as LiteLLM's does.

// credential is one credential_list entry.
type credential struct {
	values *value // credential_values, a mapping
}

// credentialList reads credential_list. credential_info is LiteLLM's
// description for its UI, kept out.
func (p *parser) credentialList(v *value) map[string]credential {
	creds := make(map[string]credential)
	if v.isNull() {
		return creds
	}
	if v.kind != kindList {
		p.errorf(v.line, "credential_list", "want a list of credentials (credential_name, credential_values), got %s", v.kind)
		return creds
	}
	for i, item := range v.items {
		path := fmt.Sprintf("credential_list[%d]", i)
		if item.kind != kindDict {
			p.errorf(item.line, path, "want a mapping with credential_name and credential_values, got %s", item.kind)
			continue
		}
		for _, kv := range item.pairs {
			switch keyName(kv.key) {
			case "credential_name", "credential_values", "credential_info":
			default:
				p.unsupported(kv.key, joinPath(path, keyName(kv.key)))
			}
		}
		name := p.required(item, path, "credential_name", "the name deployments give as litellm_credential_name")
		values := item.get("credential_values")
		vpath := joinPath(path, "credential_values")
		switch {
		case values.isNull():
			p.errorf(item.line, vpath, "missing; want a mapping of litellm_params (api_key, api_base, ...)")
			continue
		case values.kind != kindDict:
			p.errorf(values.line, vpath, "want a mapping of litellm_params (api_key, api_base, ...), got %s", values.kind)
			continue
		case name == "":
			continue
		}
		if _, dup := creds[name]; dup {
			// LiteLLM's find_credential takes the first of a name.
			p.warnf(item.line, joinPath(path, "credential_name"), "%q is named again; the first one is used", name)
			continue
		}
		creds[name] = credential{values: values}
	}
	return creds
}

// withCredential returns the deployment's litellm_params with the values of
// the credential it names added for the keys it leaves out; params itself
// when it names none.
func (p *parser) withCredential(path string, params *value) *value {
	ref := params.get("litellm_credential_name")
	if ref.isNull() {
		return params
	}
	kpath := joinPath(path, "litellm_credential_name")
	name, _, ok := p.str(kpath, ref)
	if !ok || name == "" {
		return params
	}
	cred, found := p.credentials[name]
	if !found {
		// LiteLLM's get_credential_values gives {} for a name it does not
		// know (it may be in its database, which llmvoy has none of).
		p.warnf(ref.line, kpath, "no credential %q in credential_list; the deployment uses its own values and the environment", name)
		return params
	}
	merged := &value{kind: kindDict, line: params.line, pairs: params.pairs[:len(params.pairs):len(params.pairs)]}
	for _, kv := range cred.values.pairs {
		if params.get(keyName(kv.key)) == nil {
			merged.pairs = append(merged.pairs, kv)
		}
	}
	return merged
}
