package tenants

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sailpoint-exporter/sailpoint_exporter/tenant"
)

// Loader reads the configuration again: the file, and the secrets it points
// to. The warnings are logged; an error refuses the whole reload.
type Loader func() (list []tenant.Settings, warnings []string, err error)

// Reloader re-reads the configuration on SIGHUP or POST /-/reload and
// applies it to the set, the way Prometheus and Alertmanager do: a file that
// cannot be used is refused and the running configuration stays, with a log
// line and sailpoint_config_last_reload_successful 0.
type Reloader struct {
	load   Loader
	set    *Set
	logger *slog.Logger
	now    func() time.Time

	mu         sync.Mutex // one reload at a time
	successful prometheus.Gauge
	lastOK     prometheus.Gauge
}

// NewReloader registers the reload metrics with reg. They carry no tenant
// label: they are the process's.
func NewReloader(load Loader, set *Set, reg prometheus.Registerer, logger *slog.Logger) *Reloader {
	r := &Reloader{
		load: load, set: set, logger: logger, now: time.Now,
		successful: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sailpoint_config_last_reload_successful",
			Help: "1 if the last reload of the configuration file (at start, on SIGHUP or POST /-/reload) was applied, 0 if it was refused and the previous configuration still runs.",
		}),
		lastOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sailpoint_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last reload of the configuration file that was applied.",
		}),
	}
	reg.MustRegister(r.successful, r.lastOK)
	return r
}

// Reload reads the configuration and applies it; trigger says what asked
// for it (SIGHUP, HTTP), for the log.
func (r *Reloader) Reload(trigger string) (Changes, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	list, warnings, err := r.load()
	return r.apply(trigger, list, warnings, err)
}

// Apply applies a configuration read already: the one at start.
func (r *Reloader) Apply(trigger string, list []tenant.Settings, warnings []string) (Changes, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.apply(trigger, list, warnings, nil)
}

func (r *Reloader) apply(trigger string, list []tenant.Settings, warnings []string, err error) (Changes, error) {
	for _, w := range warnings {
		r.logger.Warn(w)
	}
	var ch Changes
	if err == nil {
		ch, err = r.set.Apply(list)
	}
	if err != nil {
		r.successful.Set(0)
		r.logger.Error("the configuration was not reloaded: the running one stays", "trigger", trigger, "err", err)
		return ch, err
	}
	r.successful.Set(1)
	r.lastOK.Set(float64(r.now().UnixMilli()) / 1000)
	r.logger.Info("configuration loaded", "trigger", trigger, "tenants", len(list),
		"added", ch.Added, "removed", ch.Removed, "restarted", ch.Restarted, "rotated", ch.Rotated)
	return ch, nil
}

// Run reloads on every signal (SIGHUP) until ctx ends.
func (r *Reloader) Run(ctx context.Context, signals <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-signals:
			_, _ = r.Reload("SIGHUP")
		}
	}
}

// Handler serves POST (or PUT) /-/reload: 200 once the configuration is
// applied, 500 with the reason when it is refused.
func (r *Reloader) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost && req.Method != http.MethodPut {
			w.Header().Set("Allow", "POST, PUT")
			http.Error(w, "Only POST or PUT requests allowed.", http.StatusMethodNotAllowed)
			return
		}
		ch, err := r.Reload("HTTP")
		if err != nil {
			http.Error(w, fmt.Sprintf("failed to reload config: %s", err), http.StatusInternalServerError)
			return
		}
		_, _ = fmt.Fprintf(w, "Configuration reloaded: %s.\n", ch)
	})
}
