package collector

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sailpoint-exporter/sailpoint_exporter/client"
)

// SourceLister lists the tenant's sources: the ISC client, in production.
type SourceLister interface {
	ListSources(ctx context.Context) ([]client.Source, error)
}

// ClusterLister lists the tenant's managed clusters: the ISC client, in
// production.
type ClusterLister interface {
	ListManagedClusters(ctx context.Context) ([]client.ManagedCluster, error)
}

// Default caps of NewSources and NewManagedClusters: --activities.max-sources'
// default, and far more virtual appliance clusters than a tenant has.
const (
	defaultMaxSources  = 256
	defaultMaxClusters = 100
)

// InventoryOptions configure NewSources and NewManagedClusters.
type InventoryOptions struct {
	// Max bounds how many sources or clusters are reported: the first Max
	// by id. Default 256 for sources, 100 for clusters.
	Max    int
	Logger *slog.Logger
	Now    func() time.Time
}

// Inventory lists one small collection of ISC objects (sources, or managed
// clusters) in the background and serves what the last listing said as
// const metrics built when it ended, with its own success gauge: its
// failures never touch the activity metrics, nor theirs it.
type Inventory struct {
	kind    *inventoryKind
	fetch   func(ctx context.Context) (data []prometheus.Metric, listed int, err error)
	max     int
	logger  *slog.Logger
	now     func() time.Time
	current atomic.Pointer[[]prometheus.Metric]

	mu          sync.Mutex // one refresh at a time; guards what follows
	up          bool
	lastSuccess time.Time
	data        []prometheus.Metric
	interval    time.Duration
	failures    inventoryFailures
	capLogged   bool
}

// inventoryKind is what differs between the sources and the clusters.
type inventoryKind struct {
	what, capName       string // "sources", "--activities.max-sources"
	up, lastSuccess     *prometheus.Desc
	data                []*prometheus.Desc
	forbidden, notFound string // the one line logged on 403 and 404
}

// NewSources returns the sources collector: the name, connector, type and
// health of each source. Nothing is listed until Refresh or Run.
func NewSources(l SourceLister, opts InventoryOptions) *Inventory {
	d := sourceDescs{
		info: inventoryDesc("source_info",
			"Information about a source, value 1: its name, connector, type, whether it is authoritative and its virtual appliance cluster (cached from the last listing).",
			lSource, "source_name", "connector", lType, "authoritative", "cluster_id"),
		healthy: inventoryDesc("source_healthy",
			"1 if ISC says the source is healthy, 0 if not; absent when ISC does not say (cached from the last listing).",
			lSource),
		status: inventoryDesc("source_status",
			"The source's health status as ISC states it (SOURCE_STATE_*), value 1 for the current one (cached from the last listing).",
			lSource, "status"),
		checked: inventoryDesc("source_last_health_check_timestamp_seconds",
			"When ISC last checked the source's health (its since), as a Unix time (cached from the last listing).",
			lSource),
	}
	inv := newInventory(&inventoryKind{
		what:    "sources",
		capName: "--activities.max-sources",
		up: inventoryDesc("sources_up",
			"1 if the last listing of sources from ISC succeeded, 0 if it failed; the source metrics then keep their last known values."),
		lastSuccess: inventoryDesc("sources_last_success_timestamp_seconds",
			"Unix time at which sources were last listed from ISC."),
		data: []*prometheus.Desc{d.info, d.healthy, d.status, d.checked},
		forbidden: "ISC refused to list sources (HTTP 403): the token needs the scope " + client.SourcesScope +
			" (sp:scopes:all includes it) and an owner with the user level ORG_ADMIN, SOURCE_ADMIN, SOURCE_SUBADMIN or ROLE_SUBADMIN; " +
			unaffected("source", "--no-collector.sources"),
		notFound: "ISC has no " + client.SourcesPath + " on this tenant (HTTP 404); " + unaffected("source", "--no-collector.sources"),
	}, opts, defaultMaxSources)
	inv.fetch = func(ctx context.Context) ([]prometheus.Metric, int, error) {
		list, err := l.ListSources(ctx)
		if err != nil {
			return nil, 0, err
		}
		return d.metrics(list, inv.max), len(list), nil
	}
	return inv
}

// NewManagedClusters returns the managed clusters collector: the name, type,
// status and operational state of each virtual appliance cluster. Nothing
// is listed until Refresh or Run.
func NewManagedClusters(l ClusterLister, opts InventoryOptions) *Inventory {
	d := clusterDescs{
		info: inventoryDesc("managed_cluster_info",
			"Information about a managed cluster (a group of virtual appliances), value 1: its name and type (cached from the last listing).",
			"cluster_id", "cluster_name", lType),
		status: inventoryDesc("managed_cluster_status",
			"The managed cluster's status as ISC states it (CONFIGURING, FAILED, NO_CLIENTS, NORMAL, WARNING), value 1 for the current one (cached from the last listing).",
			"cluster_id", "status"),
		operational: inventoryDesc("managed_cluster_operational",
			"1 if ISC says the managed cluster is operational, 0 if not; absent when ISC does not say (cached from the last listing).",
			"cluster_id"),
	}
	inv := newInventory(&inventoryKind{
		what:    "managed clusters",
		capName: "the cap of " + strconv.Itoa(defaultMaxClusters),
		up: inventoryDesc("managed_clusters_up",
			"1 if the last listing of managed clusters from ISC succeeded, 0 if it failed; the cluster metrics then keep their last known values."),
		lastSuccess: inventoryDesc("managed_clusters_last_success_timestamp_seconds",
			"Unix time at which managed clusters were last listed from ISC."),
		data: []*prometheus.Desc{d.info, d.status, d.operational},
		forbidden: "ISC refused to list managed clusters (HTTP 403): the token needs the scope " + client.ManagedClustersScope +
			" (sp:scopes:all includes it), which ISC grants to personal access tokens whose owner has the user level ORG_ADMIN, not to API clients; " +
			unaffected("cluster", "--no-collector.managed-clusters"),
		notFound: "ISC has no " + client.ManagedClustersPath + " on this tenant (HTTP 404); " + unaffected("cluster", "--no-collector.managed-clusters"),
	}, opts, defaultMaxClusters)
	inv.fetch = func(ctx context.Context) ([]prometheus.Metric, int, error) {
		list, err := l.ListManagedClusters(ctx)
		if err != nil {
			return nil, 0, err
		}
		return d.metrics(list, inv.max), len(list), nil
	}
	return inv
}

// unaffected ends the line logged on a 403 or 404: what the refusal means
// for the metrics and what the exporter does next.
func unaffected(metrics, offFlag string) string {
	return "the " + metrics + " metrics stay absent or at their last values, the activity metrics are not affected, " +
		"and the exporter tries again at --sources.refresh-interval (" + offFlag + " turns this off)"
}

func inventoryDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
}

func newInventory(kind *inventoryKind, opts InventoryOptions, defaultMax int) *Inventory {
	if opts.Max <= 0 {
		opts.Max = defaultMax
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	inv := &Inventory{kind: kind, max: opts.Max, logger: opts.Logger, now: opts.Now}
	inv.publish()
	return inv
}

// Describe implements prometheus.Collector.
func (inv *Inventory) Describe(ch chan<- *prometheus.Desc) {
	ch <- inv.kind.up
	ch <- inv.kind.lastSuccess
	for _, d := range inv.kind.data {
		ch <- d
	}
}

// Collect implements prometheus.Collector: the metrics of the last
// publication, as they were built.
func (inv *Inventory) Collect(ch chan<- prometheus.Metric) {
	for _, m := range *inv.current.Load() {
		ch <- m
	}
}

// Refresh lists the collection from ISC and publishes what it said. On
// failure the last listing's metrics are kept and the success gauge is 0.
func (inv *Inventory) Refresh(ctx context.Context) error {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	data, listed, err := inv.fetch(ctx)
	if err != nil && errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return err // shutting down: nothing to say about ISC
	}
	inv.up = err == nil
	if err != nil {
		inv.failures.failed(inv, err)
		inv.publish()
		return err
	}
	inv.data, inv.lastSuccess = data, inv.now()
	if listed > inv.max && !inv.capLogged {
		inv.capLogged = true
		inv.logger.Warn("ISC lists more "+inv.kind.what+" than "+inv.kind.capName+" allows; the metrics cover the first ones by id",
			"listed", listed, "reported", inv.max)
	}
	inv.failures.succeeded(inv)
	inv.publish()
	return nil
}

// publish swaps in the metrics of the current state; callers hold mu, or
// own inv alone.
func (inv *Inventory) publish() {
	up := 0.0
	if inv.up {
		up = 1
	}
	out := make([]prometheus.Metric, 0, 2+len(inv.data))
	out = append(out, prometheus.MustNewConstMetric(inv.kind.up, prometheus.GaugeValue, up))
	if !inv.lastSuccess.IsZero() {
		out = append(out, prometheus.MustNewConstMetric(inv.kind.lastSuccess, prometheus.GaugeValue, float64(inv.lastSuccess.UnixMilli())/1000))
	}
	out = append(out, inv.data...)
	inv.current.Store(&out)
}

// Run refreshes now and then every interval until ctx ends; a refresh may
// take up to the interval, and at least a minute.
func (inv *Inventory) Run(ctx context.Context, interval time.Duration) {
	inv.mu.Lock()
	inv.interval = interval
	inv.mu.Unlock()
	timeout := max(interval, time.Minute)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		_ = inv.Refresh(rctx)
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// inventoryFailures says once that listings fail, with what to do, and once
// that they work again; repeats of the same failure are logged at debug
// level.
type inventoryFailures struct {
	since  time.Time
	count  int
	lastOf string
}

func (f *inventoryFailures) failed(inv *Inventory, err error) {
	now := inv.now()
	kind := kindOther
	switch {
	case errors.Is(err, client.ErrForbidden):
		kind = kindForbidden
	case errors.Is(err, client.ErrNotFound):
		kind = "not found"
	}
	if f.count == 0 {
		f.since = now
	}
	f.count++
	attrs := []any{"err", err}
	if inv.interval > 0 {
		attrs = append(attrs, "retry_every", inv.interval)
	}
	if f.count > 1 && kind == f.lastOf {
		inv.logger.Debug("listing "+inv.kind.what+" from ISC failed again", append(attrs, "failures", f.count, "since", f.since)...)
		return
	}
	f.lastOf = kind
	switch kind {
	case kindForbidden:
		inv.logger.Error(inv.kind.forbidden, attrs...)
	case "not found":
		inv.logger.Error(inv.kind.notFound, attrs...)
	default:
		// At info level: ISC failing this way fails the activity refresh
		// too, and that one warning line is the outage's.
		inv.logger.Info("listing "+inv.kind.what+" from ISC failed; their metrics keep their last values, the activity metrics are not affected, and the exporter tries again at its interval", attrs...)
	}
}

func (f *inventoryFailures) succeeded(inv *Inventory) {
	if f.count == 0 {
		return
	}
	inv.logger.Info("listing "+inv.kind.what+" from ISC works again", "failed_listings", f.count, "failing_for", inv.now().Sub(f.since).Round(time.Second))
	*f = inventoryFailures{}
}

// inventoryLabel is an ISC string as a label value: verbatim, "none" when
// empty, cut to maxLabelLen bytes like the activity labels.
func inventoryLabel(v string) string {
	switch {
	case v == "":
		return labelNone
	case len(v) > maxLabelLen:
		return truncateUTF8(v, maxLabelLen)
	}
	return v
}

func gaugeBool(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

type sourceDescs struct{ info, healthy, status, checked *prometheus.Desc }

// metrics builds the source metrics of the first max sources of list (sorted
// by id), one source per id as it reads once cut.
func (d *sourceDescs) metrics(list []client.Source, max int) []prometheus.Metric {
	var out []prometheus.Metric
	seen := map[string]bool{}
	for i := range list {
		s := &list[i]
		id := inventoryLabel(s.ID)
		if seen[id] {
			continue
		}
		if len(seen) == max {
			break
		}
		seen[id] = true
		out = append(out,
			prometheus.MustNewConstMetric(d.info, prometheus.GaugeValue, 1,
				id, inventoryLabel(s.Name), inventoryLabel(s.Connector), inventoryLabel(s.Type),
				strconv.FormatBool(s.Authoritative), inventoryLabel(s.ClusterID)),
			prometheus.MustNewConstMetric(d.status, prometheus.GaugeValue, 1, id, inventoryLabel(s.Status)))
		if s.Healthy != nil {
			out = append(out, prometheus.MustNewConstMetric(d.healthy, prometheus.GaugeValue, gaugeBool(*s.Healthy), id))
		}
		if !s.Since.IsZero() {
			out = append(out, prometheus.MustNewConstMetric(d.checked, prometheus.GaugeValue, float64(s.Since.UnixMilli())/1000, id))
		}
	}
	return out
}

type clusterDescs struct{ info, status, operational *prometheus.Desc }

func (d *clusterDescs) metrics(list []client.ManagedCluster, max int) []prometheus.Metric {
	var out []prometheus.Metric
	seen := map[string]bool{}
	for i := range list {
		c := &list[i]
		id := inventoryLabel(c.ID)
		if seen[id] {
			continue
		}
		if len(seen) == max {
			break
		}
		seen[id] = true
		out = append(out,
			prometheus.MustNewConstMetric(d.info, prometheus.GaugeValue, 1, id, inventoryLabel(c.Name), inventoryLabel(c.Type)),
			prometheus.MustNewConstMetric(d.status, prometheus.GaugeValue, 1, id, inventoryLabel(c.Status)))
		if c.Operational != nil {
			out = append(out, prometheus.MustNewConstMetric(d.operational, prometheus.GaugeValue, gaugeBool(*c.Operational), id))
		}
	}
	return out
}
