package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// LiteLLM's documented credential_list: a deployment takes the values it
// leaves out from the credential it names, then from the environment.
func TestCredentialList(t *testing.T) {
	const src = `model_list:
  - model_name: gpt-4o
    litellm_params:
      model: azure/gpt-4o
      litellm_credential_name: default_azure_credential
  - model_name: own-key
    litellm_params:
      model: azure/gpt-4o
      api_key: sk-own
      litellm_credential_name: default_azure_credential
  - model_name: partial
    litellm_params:
      model: openai/gpt-4o
      litellm_credential_name: base_only
credential_list:
  - credential_name: default_azure_credential
    credential_values:
      api_key: os.environ/AZURE_API_KEY
      api_base: https://eu.openai.azure.com
      api_version: "2023-05-15"
    credential_info:
      description: "Production credentials for EU region"
  - credential_name: base_only
    credential_values:
      api_base: http://gateway.test/v1
`
	cfg, warnings := mustParse(t, src, map[string]string{"AZURE_API_KEY": "az-from-env", "OPENAI_API_KEY": "sk-openai"})
	require.Empty(t, warnings)
	d := cfg.Deployments
	require.Equal(t, Secret("az-from-env"), d[0].APIKey)
	require.Equal(t, "https://eu.openai.azure.com", d[0].APIBase.String())
	require.Equal(t, "2023-05-15", d[0].APIVersion)
	// What the deployment sets wins.
	require.Equal(t, Secret("sk-own"), d[1].APIKey)
	require.Equal(t, "https://eu.openai.azure.com", d[1].APIBase.String())
	// What neither sets comes from the provider's variables.
	require.Equal(t, Secret("sk-openai"), d[2].APIKey)
	require.Equal(t, "http://gateway.test/v1", d[2].APIBase.String())

	// The id hashes the deployment's own litellm_params, as LiteLLM's does:
	// a credential's values can change without changing it.
	other, _ := mustParse(t, src, map[string]string{"AZURE_API_KEY": "rotated"})
	require.Equal(t, d[0].ID, other.Deployments[0].ID)
}

func TestCredentialListProblems(t *testing.T) {
	_, warnings := mustParse(t, `model_list:
  - model_name: m
    litellm_params: {model: openai/gpt-4o, litellm_credential_name: in-the-database}
credential_list:
  - credential_name: a
    credential_values: {api_key: one}
  - credential_name: a
    credential_values: {api_key: two}
`, nil)
	var msgs []string
	for _, w := range warnings {
		msgs = append(msgs, w.Path+": "+w.Msg)
	}
	require.Equal(t, []string{
		`model_list[0].litellm_params.litellm_credential_name: no credential "in-the-database" in credential_list; the deployment uses its own values and the environment`,
		`credential_list[1].credential_name: "a" is named again; the first one is used`,
	}, msgs)

	for src, want := range map[string]string{
		"credential_list: {a: b}\n":                              "credential_list: want a list of credentials",
		"credential_list: [{credential_name: a}]\n":              "credential_list[0].credential_values: missing",
		"credential_list: [{credential_values: {api_key: k}}]\n": "credential_list[0].credential_name: missing",
	} {
		_, _, err := Parse([]byte("model_list:\n  - model_name: m\n    litellm_params: {model: openai/gpt-4o}\n"+src), "config.yaml", nil)
		require.ErrorContains(t, err, want, src)
	}
}
