package config

import "strings"

// envPrefix marks a value LiteLLM reads from the environment: the whole
// string "os.environ/NAME" stands for $NAME.
const envPrefix = "os.environ/"

// envRef returns the variable an os.environ/ reference names. Like LiteLLM's
// get_secret it removes every occurrence of the prefix, not only the first.
func envRef(s string) (name string, ok bool) {
	if !strings.HasPrefix(s, envPrefix) {
		return "", false
	}
	return strings.ReplaceAll(s, envPrefix, ""), true
}

// lookup resolves a variable for the values llmvoy uses: environment_variables
// from the file first, then the process environment. LiteLLM exports
// environment_variables into os.environ, overwriting what was there, so that
// is what its requests see too.
func (p *parser) lookup(name string) (string, bool) {
	if v, ok := p.fileEnv[name]; ok {
		return v, true
	}
	return p.lookupEnv(name)
}

// resolveForID returns litellm_params as LiteLLM hashes them. The proxy's
// ProxyConfig._check_for_os_environ_vars replaces every os.environ/ string
// that is a mapping value (in nested mappings and in mappings inside lists
// too, but not plain list items) with get_secret's result. It runs as the
// file is read, before environment_variables are exported, so only the
// process environment counts here.
func resolveForID(v *value, lookupEnv func(string) (string, bool)) *value {
	switch v.kind {
	case kindDict:
		out := &value{kind: kindDict, line: v.line, pairs: make([]pair, len(v.pairs))}
		for i, p := range v.pairs {
			val := p.val
			switch {
			case val.kind == kindStr && strings.HasPrefix(val.s, envPrefix):
				val = liteLLMSecret(val.s, lookupEnv)
			case val.kind == kindDict || val.kind == kindList:
				val = resolveForID(val, lookupEnv)
			}
			out.pairs[i] = pair{key: p.key, val: val}
		}
		return out
	case kindList:
		out := &value{kind: kindList, line: v.line, items: make([]*value, len(v.items))}
		for i, item := range v.items {
			if item.kind == kindDict {
				item = resolveForID(item, lookupEnv)
			}
			out.items[i] = item
		}
		return out
	}
	return v
}

// liteLLMSecret mirrors litellm.get_secret without a secret manager: None
// when the variable is unset, a bool for "true"/"false" in any case, else
// the string.
func liteLLMSecret(ref string, lookupEnv func(string) (string, bool)) *value {
	name, _ := envRef(ref)
	s, ok := lookupEnv(name)
	if !ok {
		return &value{kind: kindNull}
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return &value{kind: kindBool, b: true}
	case "false":
		return &value{kind: kindBool, b: false}
	}
	return &value{kind: kindStr, s: s}
}
