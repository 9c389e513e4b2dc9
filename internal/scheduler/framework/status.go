// Package framework holds what every scheduling rule shares: the snapshot of
// nodes and pods a decision is made against (NodeInfo, Snapshot), the
// precomputed view of a pod (PodInfo: requests, ports, affinity terms), the
// plugin extension points (PreFilter, Filter, Score) and the typed verdict a
// rule returns (Status).
//
// Nothing here talks to an API server or reads the clock: a decision is a
// function of a pod and a Snapshot.
package framework

import (
	"errors"
	"strings"
)

// Code is the kind of verdict a plugin returns.
type Code int

const (
	// Success means the pod may go on; a nil *Status is also Success.
	Success Code = iota
	// Error is an internal failure; the pod is retried after back-off and
	// the attempt is not counted as "unschedulable".
	Error
	// Unschedulable means the pod does not fit the node now, but evicting
	// lower-priority pods (preemption) might change that.
	Unschedulable
	// UnschedulableAndUnresolvable means the pod does not fit the node and
	// preemption cannot help (wrong labels, untolerated taint, ...).
	UnschedulableAndUnresolvable
	// Skip, returned from PreFilter or PreScore, means the plugin has
	// nothing to say about this pod: its Filter or Score is not run.
	Skip
)

var codeNames = [...]string{"Success", "Error", "Unschedulable", "UnschedulableAndUnresolvable", "Skip"}

func (c Code) String() string {
	if c < 0 || int(c) >= len(codeNames) {
		return "Unknown"
	}
	return codeNames[c]
}

// Status is a plugin's verdict: a Code and the human-readable reasons a user
// sees in the FailedScheduling event ("Insufficient cpu", ...). The nil
// *Status means Success; all methods accept a nil receiver.
type Status struct {
	code    Code
	reasons []string
	err     error
	plugin  string
}

// NewStatus returns a Status with the given code and reasons.
func NewStatus(code Code, reasons ...string) *Status {
	return &Status{code: code, reasons: reasons}
}

// AsStatus wraps an internal error as an Error status; nil stays nil.
func AsStatus(err error) *Status {
	if err == nil {
		return nil
	}
	return &Status{code: Error, err: err}
}

// Code returns the status code; Success for nil.
func (s *Status) Code() Code {
	if s == nil {
		return Success
	}
	return s.code
}

// IsSuccess reports whether the status is nil or Success.
func (s *Status) IsSuccess() bool { return s.Code() == Success }

// IsSkip reports whether the status is Skip.
func (s *Status) IsSkip() bool { return s.Code() == Skip }

// IsRejected reports whether the pod was found not to fit
// (Unschedulable or UnschedulableAndUnresolvable).
func (s *Status) IsRejected() bool {
	c := s.Code()
	return c == Unschedulable || c == UnschedulableAndUnresolvable
}

// Reasons returns the reasons, led by the wrapped error's text if any.
func (s *Status) Reasons() []string {
	if s == nil {
		return nil
	}
	if s.err != nil {
		return append([]string{s.err.Error()}, s.reasons...)
	}
	return s.reasons
}

// Message joins the reasons with ", ".
func (s *Status) Message() string {
	return strings.Join(s.Reasons(), ", ")
}

// Plugin names the plugin that produced the status, once the core set it.
func (s *Status) Plugin() string {
	if s == nil {
		return ""
	}
	return s.plugin
}

// WithPlugin records the plugin that produced the status and returns s.
func (s *Status) WithPlugin(name string) *Status {
	if s != nil {
		s.plugin = name
	}
	return s
}

// AsError returns nil for Success and Skip, the wrapped error for Error
// statuses built with AsStatus, and an error carrying the message otherwise.
func (s *Status) AsError() error {
	if s.IsSuccess() || s.IsSkip() {
		return nil
	}
	if s.err != nil {
		return s.err
	}
	return errors.New(s.Message())
}

func (s *Status) String() string {
	if s == nil {
		return "Success"
	}
	if m := s.Message(); m != "" {
		return s.code.String() + ": " + m
	}
	return s.code.String()
}
