package xds

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClusterName(t *testing.T) {
	require.Equal(t, "group_gpt-4o", ClusterName("gpt-4o"))
	require.Equal(t, "group_Llama_3_1", ClusterName("Llama_3_1"))

	// Names outside the safe alphabet are sanitized and disambiguated.
	seen := map[string]string{}
	for _, group := range []string{"openai/gpt-4", "openai_gpt-4", "openai gpt-4", "claude-3.5", "claude-3_5", "", "日本語"} {
		name := ClusterName(group)
		require.NotContains(t, name, ".", "a dot would split the cluster_name stat tag")
		require.True(t, strings.HasPrefix(name, "group_"))
		require.NotContains(t, seen, name, "%q and %q collide", group, seen[name])
		seen[name] = group
		require.Equal(t, name, ClusterName(group), "stable")
	}
}
