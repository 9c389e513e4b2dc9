package component

// failureThreshold is how many health checks in a row must fail before a
// component is reported not Ready (kubeadm's static pods' readiness
// probe failureThreshold); one success makes it Ready again (the probe's
// successThreshold).
const failureThreshold = 3

// health is a component's health check record: the failures in a row
// and the last one.
type health struct {
	failures int
	last     error
}

// observe is the record after one check's outcome.
func (h health) observe(err error) health {
	if err == nil {
		return health{}
	}
	return health{failures: h.failures + 1, last: err}
}

// healthy reports whether the component counts as healthy: fewer than
// failureThreshold failures in a row.
func (h health) healthy() bool { return h.failures < failureThreshold }
