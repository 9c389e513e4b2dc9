// Package controllertest has the helpers the controllers' sync tests
// share: what a fake clientset was asked to write, and the events a fake
// recorder holds.
package controllertest

import (
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
)

// Writes lists the write actions as "verb resource[/subresource]", in
// order; gets, lists and watches are left out.
func Writes(actions []k8stesting.Action) []string {
	var out []string
	for _, a := range actions {
		if a.GetVerb() == "get" || a.GetVerb() == "list" || a.GetVerb() == "watch" {
			continue
		}
		s := a.GetVerb() + " " + a.GetResource().Resource
		if a.GetSubresource() != "" {
			s += "/" + a.GetSubresource()
		}
		out = append(out, s)
	}
	return out
}

// Events empties the recorder and returns its events ("Type Reason
// Message"), oldest first.
func Events(r *record.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-r.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}
