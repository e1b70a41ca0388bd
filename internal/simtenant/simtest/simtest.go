// Package simtest is what tests add to a simulated tenant (package
// simtenant): fault injection and the ground truth. It lives apart so that
// the exporter, whose --demo imports simtenant, compiles none of it:
// `go list -deps .` at the module root does not list this package
// (TestNotInTheProduct checks it).
//
// A tenant gets both at construction:
//
//	tenant := simtest.New(simtenant.Config{Seed: 1})
//	simtest.Faults(tenant).FailNext(2, 503)
//	mark := simtest.Truth(tenant).Mark()
//
// The truth must see every activity and task that finishes, so it can only
// be attached when the tenant is built: Truth panics for a tenant that
// simtenant.New built. Faults attach to any tenant, whenever, such as the
// one --demo starts.
package simtest

import "github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"

// New builds a tenant like simtenant.New with the truth recorder (as
// Config.Observer, which must be nil) and the fault injector attached.
func New(cfg simtenant.Config) *simtenant.Tenant {
	if cfg.Observer != nil {
		panic("simtest.New: Config.Observer is where the truth recorder goes; leave it nil")
	}
	r := &Recorder{limit: 4 * cfg.MaxActivities}
	cfg.Observer = r
	t := simtenant.New(cfg)
	r.tenant = t
	Faults(t)
	return t
}

// Faults returns the tenant's fault injector, attaching one the first time.
func Faults(t *simtenant.Tenant) *Injector {
	ic := t.Interceptor(func() simtenant.Interceptor { return newInjector(t) })
	f, ok := ic.(*Injector)
	if !ok {
		panic("simtest.Faults: the tenant has an Interceptor that is not simtest's")
	}
	return f
}

// Truth returns the ground truth of a tenant built by New. It panics for
// any other tenant: a recorder attached later would have missed what
// happened before, and a test would compare against a wrong truth.
func Truth(t *simtenant.Tenant) *Recorder {
	r, ok := t.Observer().(*Recorder)
	if !ok || r.tenant != t {
		panic("simtest.Truth: the tenant was not built by simtest.New, so no truth was recorded from its start; build it with simtest.New")
	}
	return r
}
