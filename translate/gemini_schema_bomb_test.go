package translate

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// schemaBomb is a tool schema of levels $defs, each referencing the one
// below fanout times: small to send, fanout^levels objects once inlined.
func schemaBomb(levels, fanout int) string {
	defs := []string{`"d0":{"type":"string","description":"leaf"}`}
	for i := 1; i <= levels; i++ {
		var props []string
		for j := range fanout {
			props = append(props, fmt.Sprintf(`"p%d":{"$ref":"#/$defs/d%d"}`, j, i-1))
		}
		defs = append(defs, fmt.Sprintf(`"d%d":{"type":"object","properties":{%s}}`, i, strings.Join(props, ",")))
	}
	return fmt.Sprintf(`{"$defs":{%s},"$ref":"#/$defs/d%d"}`, strings.Join(defs, ","), levels)
}

func toolsRequest(schemas ...string) []byte {
	var tools []string
	for i, s := range schemas {
		tools = append(tools, fmt.Sprintf(`{"type":"function","function":{"name":"f%d","parameters":%s}}`, i, s))
	}
	return []byte(`{"model":"g","messages":[{"role":"user","content":"x"}],"tools":[` + strings.Join(tools, ",") + `]}`)
}

// A schema whose $refs multiply is refused with a 400 at once, not
// expanded. Before the budgets, 9 levels of 4 (1.5 KB) took 4.8 s and
// made 15 MB; 20 levels never finished.
func TestGeminiSchemaBombIsRefusedFast(t *testing.T) {
	d := geminiDeployment(t, "https://generativelanguage.googleapis.com", "k", "gemini-2.5-flash")
	bigEnum := `{"type":"string","enum":[` + strings.TrimSuffix(strings.Repeat(`"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",`, 2000), ",") + `]}`
	var manyRefs []string
	for i := range 2000 {
		manyRefs = append(manyRefs, fmt.Sprintf(`"p%d":{"$ref":"#/$defs/E"}`, i))
	}
	for name, schema := range map[string]string{
		"9 levels of 4":                   schemaBomb(9, 4),
		"20 levels of 4":                  schemaBomb(20, 4),
		"60 levels of 2":                  schemaBomb(60, 2),
		"a large enum inlined 2000 times": `{"$defs":{"E":` + bigEnum + `},"properties":{` + strings.Join(manyRefs, ",") + `}}`,
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			out, resp, err := gemini{}.RequestBody(d, ChatCompletions, toolsRequest(schema))
			took := time.Since(start)
			require.ErrorIs(t, err, ErrBadRequest)
			require.Nil(t, out)
			require.Nil(t, resp)
			require.Less(t, took, 100*time.Millisecond)
		})
	}
	// Many small bombs in one request: each is refused as fast.
	var many []string
	for range 200 {
		many = append(many, schemaBomb(12, 3))
	}
	start := time.Now()
	_, _, err := gemini{}.RequestBody(d, ChatCompletions, toolsRequest(many...))
	require.ErrorIs(t, err, ErrBadRequest)
	require.Less(t, time.Since(start), 500*time.Millisecond)
}

// What real schemas do with $defs (a definition used several times, a
// model nested in a model) is well inside the budgets.
func TestGeminiSchemaSharedDefinitionsStillInline(t *testing.T) {
	d := geminiDeployment(t, "https://generativelanguage.googleapis.com", "k", "gemini-2.5-flash")
	money := `{"type":"object","description":"An amount of money in a currency.","properties":{"amount":{"type":"number","description":"The amount, in the currency's major unit."},"currency":{"type":"string","enum":["USD","EUR","GBP","JPY","CHF"]}},"required":["amount","currency"]}`
	item := `{"type":"object","properties":{"sku":{"type":"string"},"price":{"$ref":"#/$defs/Money"},"discount":{"$ref":"#/$defs/Money"},"tax":{"$ref":"#/$defs/Money"}}}`
	var props []string
	for i := range 12 {
		props = append(props, fmt.Sprintf(`"item%d":{"$ref":"#/$defs/Item"}`, i))
	}
	schema := `{"$defs":{"Money":` + money + `,"Item":` + item + `},"type":"object","properties":{` + strings.Join(props, ",") + `,"total":{"$ref":"#/$defs/Money"}}}`
	out, _, err := gemini{}.RequestBody(d, ChatCompletions, toolsRequest(schema))
	require.NoError(t, err)
	var req struct {
		Tools []struct {
			FunctionDeclarations []struct {
				Parameters json.RawMessage `json:"parameters"`
			} `json:"functionDeclarations"`
		} `json:"tools"`
	}
	require.NoError(t, json.Unmarshal(out, &req))
	params := string(req.Tools[0].FunctionDeclarations[0].Parameters)
	require.Equal(t, 2*(12*3+1), strings.Count(params, `"currency"`), "every Money inlined, with its required list")
	require.NotContains(t, params, "$ref")

	// A large schema without $refs (OpenAI's limit is 5,000 properties) is
	// not refused either.
	props = props[:0]
	for i := range 5000 {
		props = append(props, fmt.Sprintf(`"field%d":{"type":"string","description":"field number %d"}`, i, i))
	}
	_, _, err = gemini{}.RequestBody(d, ChatCompletions, toolsRequest(`{"type":"object","properties":{`+strings.Join(props, ",")+`}}`))
	require.NoError(t, err)
}

// The node budget holds without $refs too: a schema of more objects than
// the budget is refused, however it is shaped.
func TestGeminiSchemaNodeBudget(t *testing.T) {
	var props []string
	for i := range geminiMaxSchemaNodes + 1 {
		props = append(props, fmt.Sprintf(`"f%d":{}`, i))
	}
	_, err := geminiSchema(json.RawMessage(`{"properties":{`+strings.Join(props, ",")+`}}`), false, newGeminiSchemaBudget())
	require.ErrorIs(t, err, errSchemaTooLarge)
	_, err = geminiSchema(json.RawMessage(`{"properties":{`+strings.Join(props[:geminiMaxSchemaNodes-1], ",")+`}}`), false, newGeminiSchemaBudget())
	require.NoError(t, err)
	// A recursive $ref is still refused by depth, not looped on.
	_, err = geminiSchema(json.RawMessage(`{"$defs":{"A":{"properties":{"a":{"$ref":"#/$defs/A"}}}},"$ref":"#/$defs/A"}`), false, newGeminiSchemaBudget())
	require.Error(t, err)
	require.False(t, errors.Is(err, ErrBadRequest), "geminiSchema's callers wrap it")
}

// The budget is the request's too: many schemas, each within its own
// bounds, cannot add up to an unbounded expansion.
func TestGeminiSchemaBudgetIsPerRequest(t *testing.T) {
	d := geminiDeployment(t, "https://generativelanguage.googleapis.com", "k", "gemini-2.5-flash")
	// Each inlines a few times its size, well within its own bound.
	one := schemaBomb(3, 3)
	_, _, err := gemini{}.RequestBody(d, ChatCompletions, toolsRequest(one))
	require.NoError(t, err, "one such schema is fine")
	many := make([]string, 2000)
	for i := range many {
		many[i] = one
	}
	start := time.Now()
	_, _, err = gemini{}.RequestBody(d, ChatCompletions, toolsRequest(many...))
	require.ErrorIs(t, err, ErrBadRequest)
	require.Less(t, time.Since(start), time.Second)
}
