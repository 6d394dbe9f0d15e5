package config

import (
	"fmt"
	"strings"
)

// fmt skips String and GoString in some cases: a verb that does not suit the
// value (%d of a string field) or a struct behind a pointer printed with %s.
// Formatters cover every verb, so no verb prints a secret.

var (
	_ fmt.Formatter = Secret("")
	_ fmt.Formatter = Deployment{}
)

// Format prints the secret redacted, whatever the verb.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, s.GoString())
		return
	}
	fmt.Fprint(f, s.String())
}

// Format prints the deployment's fields (its Secret redacted) for every
// verb, also when it sits behind a pointer inside a Config.
func (d Deployment) Format(f fmt.State, verb rune) {
	type fields Deployment // the same fields without this method
	s := fmt.Sprintf(fmt.FormatString(f, verb), fields(d))
	if verb == 'v' && f.Flag('#') {
		s = strings.Replace(s, "config.fields", "config.Deployment", 1)
	}
	fmt.Fprint(f, s)
}

// PublicAPIBase is the deployment's api_base as it may be shown (info
// endpoints, spend logs, /health): without user info, query or fragment,
// which can carry a credential.
func (d *Deployment) PublicAPIBase() string {
	if d.APIBase == nil {
		return ""
	}
	u := *d.APIBase
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}
