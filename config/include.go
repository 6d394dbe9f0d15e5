package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// LiteLLM's top-level include (ProxyConfig._process_includes in
// litellm/proxy/proxy_server.py): a list of YAML files, relative to the
// directory of the config file, read in order into the config. A key whose
// value is a list in the included file and that the config already has is
// extended (model_list, credential_list); any other key is replaced by the
// included file's. A missing file fails the config.
//
// The included files' values keep their own lines: a value read from the
// n-th file carries n*lineStride plus its line, and errorf and warnf's
// results are mapped back to the file and line when Parse returns. That
// keeps every message pointing at the file that holds the key, without a
// file on each of the parser's hundred error sites.
const lineStride = 1 << 24

// includePath is where an include entry of the config file at configPath
// is read from: an absolute path as it is, else relative to the config
// file's directory, as LiteLLM's os.path.join does.
func includePath(configPath, name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(filepath.Dir(configPath), name)
}

// includes merges the files root's include names into root and removes the
// include key, reporting what it cannot read.
func (p *parser) includes(root *value) {
	var list *value
	at := -1
	for i, kv := range root.pairs {
		if keyName(kv.key) == "include" {
			list, at = kv.val, i
		}
	}
	if at < 0 {
		return
	}
	root.pairs = append(root.pairs[:at:at], root.pairs[at+1:]...)
	if list.isNull() {
		return
	}
	if list.kind != kindList {
		p.errorf(list.line, "include", "want a list of YAML file paths, got %s", list.kind)
		return
	}
	for i, item := range list.items {
		path := fmt.Sprintf("include[%d]", i)
		name, _, ok := p.str(path, item)
		if !ok {
			continue
		}
		if name == "" {
			p.errorf(item.line, path, "empty; want the path of a YAML file")
			continue
		}
		file := includePath(p.file, name)
		data, err := os.ReadFile(file)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the path is printed once, below
			}
			p.errorf(item.line, path, "cannot read included file %s: %v", file, err)
			continue
		}
		p.files = append(p.files, file)
		included := p.read(data, (len(p.files)-1)*lineStride)
		if included == nil {
			continue
		}
		if nested := included.get("include"); nested != nil {
			// LiteLLM reads a nested include relative to the top file, by
			// accident of extending the list it walks; say so rather
			// than guess.
			p.errorf(nested.line, "include", "an included file cannot include others; list every file in %s", p.file)
			continue
		}
		mergeIncluded(root, included)
	}
}

// mergeIncluded adds an included file's top-level keys to root as LiteLLM
// does: lists extend lists, anything else replaces.
func mergeIncluded(root, included *value) {
	for _, kv := range included.pairs {
		name := keyName(kv.key)
		found := false
		for i := range root.pairs {
			if keyName(root.pairs[i].key) != name {
				continue
			}
			found = true
			if old := root.pairs[i].val; kv.val.kind == kindList && old.kind == kindList {
				merged := &value{kind: kindList, line: old.line}
				merged.items = append(append(merged.items, old.items...), kv.val.items...)
				root.pairs[i].val = merged
			} else {
				root.pairs[i].val = kv.val
			}
		}
		if !found {
			root.pairs = append(root.pairs, kv)
		}
	}
}

// name is the file of the n-th file read: the config file, then the
// included ones in order.
func (p *parser) name(n int) string {
	if n < len(p.files) {
		return p.files[n]
	}
	return p.file
}

// locate maps a line as the parser keeps it to its file and line.
func (p *parser) locate(line int) (string, int) {
	if line < lineStride {
		return p.file, line
	}
	return p.name(line / lineStride), line % lineStride
}

// Files are the config file at path and the files its include names, as
// the control loop watches them: best effort, for a file that may not
// parse (a reload reports why).
func Files(path string) []string {
	files := []string{path}
	data, err := os.ReadFile(path)
	if err != nil {
		return files
	}
	var doc struct {
		Include []string `yaml:"include"`
	}
	if yaml.Unmarshal(data, &doc) != nil {
		return files
	}
	for _, name := range doc.Include {
		if name != "" {
			files = append(files, includePath(path, name))
		}
	}
	return files
}
