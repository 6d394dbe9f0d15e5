package config

import "fmt"

// Error is one problem in a config file. Parse returns all of them joined with
// errors.Join so a user fixes everything in one go; callers reach each one
// with errors.As.
type Error struct {
	File string // as given to Load or Parse; "" when parsed from bytes
	Line int    // 1-based; 0 when the problem has no line (an unreadable file)
	Path string // path to the key, e.g. model_list[1].litellm_params.weight
	Msg  string
}

func (e *Error) Error() string { return location(e.File, e.Line, e.Path) + e.Msg }

// Warning is a key llmvoy understands but does not act on yet, or a value it
// replaced (an unset environment variable). A config with warnings is valid.
type Warning struct {
	File string // as for Error
	Path string
	Line int
	Msg  string
}

func (w Warning) String() string { return location(w.File, w.Line, w.Path) + w.Msg }

// location renders "file:line: path: ", leaving out the parts that are unknown.
func location(file string, line int, path string) string {
	var s string
	switch {
	case file != "" && line > 0:
		s = fmt.Sprintf("%s:%d: ", file, line)
	case file != "":
		s = file + ": "
	case line > 0:
		s = fmt.Sprintf("line %d: ", line)
	}
	if path != "" {
		s += path + ": "
	}
	return s
}
