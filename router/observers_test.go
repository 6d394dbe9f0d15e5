package router

import (
	"testing"

	"github.com/stretchr/testify/require"
)

type observerLog struct{ attempts, requests []string }

func (r *observerLog) ObserveAttempt(a Attempt) { r.attempts = append(r.attempts, a.Deployment) }
func (r *observerLog) ObserveRequest(q Request) { r.requests = append(r.requests, q.RequestID) }

func TestObserversTellEach(t *testing.T) {
	a, b := &observerLog{}, &observerLog{}
	obs := Observers{a, b}
	obs.ObserveAttempt(Attempt{Deployment: "d1"})
	obs.ObserveRequest(Request{RequestID: "r1"})
	for _, r := range []*observerLog{a, b} {
		require.Equal(t, []string{"d1"}, r.attempts)
		require.Equal(t, []string{"r1"}, r.requests)
	}
}
