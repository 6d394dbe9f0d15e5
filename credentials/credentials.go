// Package credentials gets and applies a deployment's credential to an
// upstream request: a Google access token for Vertex AI (fetched, cached and
// refreshed in the background) and an AWS SigV4 signature for Bedrock.
// Translators call it for the headers a request carries and never fetch
// tokens or sign themselves; this package reads no request or answer body
// beyond what a signature covers.
package credentials

import "errors"

// ErrUnavailable marks a credential that cannot be had now (Google's token
// endpoint failing or slow): the deployment is unavailable, the request is
// not wrong. translate.ErrUnavailable is this error.
var ErrUnavailable = errors.New("deployment unavailable")

// Header is a header a credential sets on a request, its name lowercase.
type Header struct{ Key, Value string }
