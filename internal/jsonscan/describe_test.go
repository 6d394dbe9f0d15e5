package jsonscan

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDescribe(t *testing.T) {
	for raw, kind := range map[string]string{"": "nothing", ` "x"`: "a string", "{}": "an object", "[1]": "a list",
		"true": "a boolean", "null": "null", "-1.5": "a number"} {
		require.Equal(t, kind, Kind([]byte(raw)), raw)
	}
	require.True(t, IsNull([]byte(" null ")))
	require.True(t, IsNull(nil))
	require.False(t, IsNull([]byte(`"null"`)))

	var v struct {
		N int `json:"n"`
	}
	err := json.Unmarshal([]byte(`{"n":"x"}`), &v)
	require.Equal(t, "n: want int, got a JSON string", DecodeError(err))

	b, err := Marshal(map[string]string{"t": "<a & b>"})
	require.NoError(t, err)
	require.Equal(t, `{"t":"<a & b>"}`, string(b), "no HTML escaping, no newline")
}
