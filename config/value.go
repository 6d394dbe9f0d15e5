package config

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// LiteLLM reads config.yaml with PyYAML's safe_load, which follows YAML 1.1:
// "yes" is a bool, "010" is octal 8, "1_000" is 1000 and "1e3" is a string.
// The deployment id hashes Python's rendering of those values, so the file is
// decoded into a tree of Python-shaped values, not with yaml.v3's YAML 1.2
// rules. Each value keeps its line for messages.

type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindInt
	kindFloat
	kindStr
	kindList
	kindDict
)

func (k kind) String() string {
	return [...]string{"null", "a boolean", "an integer", "a number", "a string", "a list", "a mapping"}[k]
}

type value struct {
	kind  kind
	line  int
	text  string // source text of a scalar, for messages
	b     bool
	i     *big.Int // Python ints are unbounded
	f     float64
	s     string
	items []*value // kindList
	pairs []pair   // kindDict, unique keys in Python's insertion order
}

type pair struct {
	key *value
	val *value
}

// get returns the value of the string key name, or nil.
func (v *value) get(name string) *value {
	for _, p := range v.pairs {
		if p.key.kind == kindStr && p.key.s == name {
			return p.val
		}
	}
	return nil
}

func (v *value) isNull() bool { return v == nil || v.kind == kindNull }

func (v *value) isScalar() bool { return v.kind != kindList && v.kind != kindDict }

// keyName is how a mapping key appears in a path.
func keyName(k *value) string {
	if k.kind == kindStr {
		return k.s
	}
	return k.text
}

// Bounds that keep a hostile file (alias bombs, deep nesting) from using
// unbounded memory or stack; real configs are far below both.
const (
	maxValues = 100_000
	maxDepth  = 100
)

type decoder struct {
	left int // values still allowed
	warn func(line int, path, msg string)
}

func (d *decoder) decode(n *yaml.Node, path string, depth int) (*value, error) {
	if d.left--; d.left < 0 {
		return nil, &Error{Line: n.Line, Msg: "too many values after expanding aliases"}
	}
	if depth > maxDepth {
		return nil, &Error{Line: n.Line, Msg: "nested too deeply"}
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, &Error{Line: n.Line, Path: path, Msg: "alias to nothing"}
		}
		return d.decode(n.Alias, path, depth+1)
	case yaml.ScalarNode:
		return scalar(n), nil
	case yaml.SequenceNode:
		v := &value{kind: kindList, line: n.Line}
		for i, c := range n.Content {
			item, err := d.decode(c, fmt.Sprintf("%s[%d]", path, i), depth+1)
			if err != nil {
				return nil, err
			}
			v.items = append(v.items, item)
		}
		return v, nil
	case yaml.MappingNode:
		return d.mapping(n, path, depth)
	}
	return nil, &Error{Line: n.Line, Path: path, Msg: "unsupported YAML node"}
}

// mapping builds a dict the way PyYAML does: "<<" merge keys are flattened
// first (earlier merged mappings win over later ones, explicit keys over
// merged ones), and a repeated key keeps its first position but takes its
// last value.
func (d *decoder) mapping(n *yaml.Node, path string, depth int) (*value, error) {
	// An entry is either still a pair of nodes (written in this mapping) or
	// already decoded (it came through a merge).
	type entry struct {
		keyNode, valNode *yaml.Node
		key, val         *value
	}
	var merged, explicit []entry
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !isMergeKey(k) {
			explicit = append(explicit, entry{keyNode: k, valNode: v})
			continue
		}
		sources, err := mergeSources(v, path)
		if err != nil {
			return nil, err
		}
		// PyYAML reverses the list so that, with later assignments winning,
		// the first mapping listed has the last word.
		for j := len(sources) - 1; j >= 0; j-- {
			if d.left--; d.left < 0 {
				return nil, &Error{Line: v.Line, Msg: "too many values after expanding aliases"}
			}
			src, err := d.mapping(sources[j], path, depth+1)
			if err != nil {
				return nil, err
			}
			for _, p := range src.pairs {
				merged = append(merged, entry{key: p.key, val: p.val})
			}
		}
	}
	out := &value{kind: kindDict, line: n.Line}
	index := make(map[string]int)
	written := make(map[string]bool) // keys written in this mapping, not merged
	for _, e := range append(merged, explicit...) {
		key, val := e.key, e.val
		if e.keyNode != nil {
			var err error
			if key, err = d.decode(e.keyNode, path, depth+1); err != nil {
				return nil, err
			}
		}
		if !key.isScalar() {
			return nil, &Error{Line: key.line, Path: path, Msg: "want a scalar mapping key"}
		}
		childPath := joinPath(path, keyName(key))
		if e.valNode != nil {
			var err error
			if val, err = d.decode(e.valNode, childPath, depth+1); err != nil {
				return nil, err
			}
		}
		id := keyID(key)
		if at, ok := index[id]; ok {
			if e.keyNode != nil && written[id] && d.warn != nil {
				d.warn(key.line, childPath, "duplicate key, the last value wins")
			}
			out.pairs[at].val = val
		} else {
			index[id] = len(out.pairs)
			out.pairs = append(out.pairs, pair{key: key, val: val})
		}
		if e.keyNode != nil {
			written[id] = true
		}
	}
	return out, nil
}

// keyID identifies a key as a Python dict does: True, 1 and 1.0 are one key.
func keyID(k *value) string {
	switch k.kind {
	case kindStr:
		return "s" + k.s
	case kindNull:
		return "n"
	case kindBool:
		if k.b {
			return "#1"
		}
		return "#0"
	case kindInt:
		return "#" + k.i.String()
	case kindFloat:
		if k.f == math.Trunc(k.f) && !math.IsInf(k.f, 0) {
			i, _ := new(big.Float).SetFloat64(k.f).Int(nil)
			return "#" + i.String()
		}
	}
	return "f" + pyStr(k)
}

func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Style&quotedStyles == 0 && k.Style&yaml.TaggedStyle == 0
}

// mergeSources returns the mappings a "<<" value names: one mapping or a
// list of them, usually through aliases.
func mergeSources(v *yaml.Node, path string) ([]*yaml.Node, error) {
	v = unalias(v)
	switch v.Kind {
	case yaml.MappingNode:
		return []*yaml.Node{v}, nil
	case yaml.SequenceNode:
		out := make([]*yaml.Node, 0, len(v.Content))
		for _, c := range v.Content {
			c = unalias(c)
			if c.Kind != yaml.MappingNode {
				return nil, &Error{Line: c.Line, Path: path, Msg: "<< merges mappings only"}
			}
			out = append(out, c)
		}
		return out, nil
	}
	return nil, &Error{Line: v.Line, Path: path, Msg: "<< merges mappings only"}
}

func unalias(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < maxDepth; i++ {
		n = n.Alias
	}
	return n
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

const quotedStyles = yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle | yaml.LiteralStyle | yaml.FoldedStyle

// scalar resolves a scalar node as PyYAML's SafeLoader would.
func scalar(n *yaml.Node) *value {
	text := n.Value
	str := &value{kind: kindStr, line: n.Line, text: text, s: text}
	if n.Style&yaml.TaggedStyle != 0 {
		var v *value
		switch n.ShortTag() {
		case "!!null":
			v = &value{kind: kindNull}
		case "!!bool":
			v = yamlBool(text)
		case "!!int":
			v = yamlInt(text)
		case "!!float":
			v = yamlFloat(text)
		}
		if v == nil {
			return str
		}
		v.line, v.text = n.Line, text
		return v
	}
	if n.Style&quotedStyles != 0 {
		return str
	}
	v := resolvePlain(text)
	if v == nil {
		return str
	}
	v.line, v.text = n.Line, text
	return v
}

// PyYAML's implicit resolvers (yaml/resolver.py). Timestamps stay strings:
// str() of a plain date is its text, which is all the id needs.
var (
	reBool  = regexp.MustCompile(`^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$`)
	reInt   = regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)
	reFloat = regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)
)

func resolvePlain(s string) *value {
	switch {
	case s == "" || s == "~" || s == "null" || s == "Null" || s == "NULL":
		return &value{kind: kindNull}
	case reBool.MatchString(s):
		return yamlBool(s)
	case reFloat.MatchString(s):
		return yamlFloat(s)
	case reInt.MatchString(s):
		return yamlInt(s)
	}
	return nil
}

func yamlBool(s string) *value {
	switch strings.ToLower(s) {
	case "yes", "true", "on":
		return &value{kind: kindBool, b: true}
	case "no", "false", "off":
		return &value{kind: kindBool, b: false}
	}
	return nil
}

// yamlInt mirrors SafeConstructor.construct_yaml_int; nil if Python would
// fail to convert.
func yamlInt(s string) *value {
	s = strings.ReplaceAll(s, "_", "")
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimLeft(s, "+-")
	if s == "" {
		return nil
	}
	n := new(big.Int)
	var ok bool
	switch {
	case s == "0":
		ok = true
	case strings.HasPrefix(s, "0b"):
		_, ok = n.SetString(s[2:], 2)
	case strings.HasPrefix(s, "0x"):
		_, ok = n.SetString(s[2:], 16)
	case s[0] == '0':
		_, ok = n.SetString(s, 8)
	case strings.Contains(s, ":"):
		ok = true
		base := big.NewInt(1)
		parts := strings.Split(s, ":")
		for i := len(parts) - 1; i >= 0; i-- {
			d, good := new(big.Int).SetString(parts[i], 10)
			if !good {
				return nil
			}
			n.Add(n, d.Mul(d, base))
			base.Mul(base, big.NewInt(60))
		}
	default:
		_, ok = n.SetString(s, 10)
	}
	if !ok {
		return nil
	}
	if neg {
		n.Neg(n)
	}
	return &value{kind: kindInt, i: n}
}

// yamlFloat mirrors SafeConstructor.construct_yaml_float.
func yamlFloat(s string) *value {
	s = strings.ToLower(strings.ReplaceAll(s, "_", ""))
	sign := 1.0
	if strings.HasPrefix(s, "-") {
		sign = -1
	}
	s = strings.TrimLeft(s, "+-")
	var f float64
	switch {
	case s == ".inf":
		f = math.Inf(1)
	case s == ".nan":
		return &value{kind: kindFloat, f: math.NaN()}
	case strings.Contains(s, ":"):
		base := 1.0
		parts := strings.Split(s, ":")
		for i := len(parts) - 1; i >= 0; i-- {
			d, err := strconv.ParseFloat(parts[i], 64)
			if err != nil {
				return nil
			}
			f += d * base
			base *= 60
		}
	default:
		var err error
		if f, err = strconv.ParseFloat(s, 64); err != nil && !isRangeErr(err) {
			return nil
		}
	}
	return &value{kind: kindFloat, f: sign * f}
}

// isRangeErr reports an overflow, which Python's float() turns into inf
// just as ParseFloat does.
func isRangeErr(err error) bool {
	var ne *strconv.NumError
	return errors.As(err, &ne) && ne.Err == strconv.ErrRange
}
