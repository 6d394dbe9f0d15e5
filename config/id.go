package config

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// liteLLMID is the id LiteLLM gives a deployment without model_info.id
// (Router._generate_model_id in litellm/router.py): the sha256 hex digest of
// the model_name followed by each litellm_params key and value in file order.
// Strings go in as they are, mappings as json.dumps, everything else as
// str(): 5 → "5", 0.5 → "0.5", true → "True", a list → "['a', 'b']".
//
// params must already be resolved as LiteLLM resolves them (resolveForID):
// the id covers the api_key's value, so it changes when the key does, just
// as in LiteLLM.
func liteLLMID(modelName string, params *value) string {
	var b strings.Builder
	b.WriteString(modelName)
	for _, p := range params.pairs {
		b.WriteString(idPart(p.key))
		b.WriteString(idPart(p.val))
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

func idPart(v *value) string {
	switch v.kind {
	case kindStr:
		return v.s
	case kindDict:
		return jsonDumps(v)
	}
	return pyStr(v)
}
