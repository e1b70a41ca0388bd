package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sailpoint-exporter/sailpoint_exporter/activities"
	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/state"
)

const (
	// restartOverlap is shorter than the default 5m so that what a restart
	// reads again stays well below a priming within the test's minute.
	restartOverlap  = 20 * time.Second
	restartClientID = "restart-client"
	restartSecret   = "restart-secret-never-logged"
	killsWanted     = 22
)

// The state file, proven on the built binary: killed with SIGKILL at random
// moments, some of them while it writes the state file, and restarted after
// a random pause, the exporter never serves a counter lower than before, and
// at the end every counter, histogram bucket, sum and count equals what the
// simulated tenant did, exactly.
func TestKilledExporterLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the built exporter; run it without -short")
	}
	t.Parallel()
	r := newRestartRun(t, true)
	r.run(killsWanted)

	t.Logf("%d kills, %d of them while a state write was in progress; %d counter decreases; list requests per restart: max %d, median %d, priming %d",
		r.kills, r.hitWrite, len(r.sampler.decreases), slices.Max(r.restartRequests), median(r.restartRequests), r.primingRequests)
	if r.kills < killsWanted {
		t.Errorf("only %d kills", r.kills)
	}
	if r.hitWrite == 0 {
		t.Error("no kill hit a state write in progress; the test proves less than it says")
	}
	for _, d := range r.sampler.decreases {
		t.Errorf("counter went down: %s", d)
	}
	if missing := r.compareWithTruth(t); missing != 0 {
		t.Errorf("%v completions counted differently from ground truth", missing)
	}
	// A restart costs about one refresh (checked restart by restart), not a
	// new pass over the window.
	if worst := slices.Max(r.restartRequests); worst >= r.primingRequests {
		t.Errorf("a restart sent %d list requests, priming %d: the state file should spare the re-read", worst, r.primingRequests)
	}
}

// Without --state.file a restart loses what the exporter had counted and
// what completed while it was down: what a user gives up by not setting it.
func TestKilledExporterWithoutStateFileLosesCounts(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the built exporter; run it without -short")
	}
	t.Parallel()
	r := newRestartRun(t, false)
	r.run(4)
	truth, counted := r.totals()
	t.Logf("without a state file: %d kills, %d counter decreases, %d of %d completions counted at the end", r.kills, len(r.sampler.decreases), counted, truth)
	if len(r.sampler.decreases) == 0 {
		t.Error("counters should go down at a restart without a state file")
	}
	if counted >= truth {
		t.Errorf("counted %d of %d completions: a restart without a state file should lose some", counted, truth)
	}
}

type restartRun struct {
	t         *testing.T
	ctx       context.Context
	tenant    *simtenant.Tenant
	bin, addr string
	args      []string
	statePath string
	logPath   string
	mark      simtenant.Mark
	sampler   *sampler
	rng       *rand.Rand

	kills, hitWrite int
	restartRequests []int
	primingRequests int
	url             string // the tenant's

	// busy is held by the stream of tenant changes while it makes one, and
	// by a restart while it must see the tenant still: what a restart reads
	// is then exactly what ISC held when it started.
	busy sync.Mutex
}

func newRestartRun(t *testing.T, withState bool) *restartRun {
	// The budget only bounds a run that hangs: nothing is asserted against
	// the clock, so a busy machine makes the test slower, never red.
	ctx, cancel := context.WithTimeout(t.Context(), 12*time.Minute)
	t.Cleanup(cancel)
	tenant := simtenant.New(simtenant.Config{Seed: 41, RateLimit: -1, Clients: map[string]string{restartClientID: restartSecret}})
	// Enough history that priming takes well over 60 list requests, so that
	// a restart's single refresh proves it spared them, and a state file of
	// a few megabytes.
	tenant.SeedHistory(20_000, 20*time.Hour)
	url, err := tenant.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tenant.Close() })
	dir := t.TempDir()
	r := &restartRun{
		t: t, ctx: ctx, tenant: tenant, bin: buildExporter(ctx, t), addr: freeAddr(ctx, t),
		statePath: filepath.Join(dir, "state"), logPath: filepath.Join(dir, "exporter.log"),
		rng: rand.New(rand.NewPCG(41, 7)),
	}
	r.args = []string{"--isc.url=" + url, "--isc.client-id=" + restartClientID, "--web.listen-address=" + r.addr,
		"--activities.refresh-interval=500ms", "--isc.requests-per-second=1000", "--log.level=debug",
		"--activities.overlap=" + restartOverlap.String()}
	if withState {
		r.args = append(r.args, "--state.file="+r.statePath)
	} else {
		r.statePath = ""
	}
	r.url = url
	r.sampler = &sampler{url: "http://" + r.addr + "/metrics", last: map[string]float64{}}
	return r
}

// run starts the exporter, keeps the tenant busy, kills and restarts the
// exporter kills times, then lets it catch up.
func (r *restartRun) run(kills int) {
	t := r.t
	r.mark = r.tenant.Mark()
	p := r.start()
	r.primingRequests = r.requestsUntilRefreshed(time.Now())
	if r.primingRequests < 60 {
		t.Fatalf("priming took %d list requests; the history is too small to prove a restart spares it", r.primingRequests)
	}

	stream, stopStream := context.WithCancel(r.ctx)
	var wg sync.WaitGroup
	wg.Go(func() { r.keepTenantBusy(stream) })
	wg.Go(func() { r.sampler.run(stream) })

	for r.kills < kills && r.ctx.Err() == nil {
		if r.kills%2 == 0 && r.statePath != "" {
			// Freeze the exporter in the middle of a state write, then kill it.
			r.stopDuringWrite(p)
		} else {
			sleep(r.ctx, time.Duration(300+r.rng.IntN(1500))*time.Millisecond)
		}
		p.kill()
		r.kills++
		if _, err := os.Stat(r.statePath + ".tmp"); err == nil {
			r.hitWrite++
		}
		// ISC goes on while the exporter is down.
		sleep(r.ctx, time.Duration(100+r.rng.IntN(1200))*time.Millisecond)
		p = r.restart()
	}
	stopStream()
	wg.Wait()
	// Let the exporter read everything that happened.
	r.requestsUntilRefreshed(time.Now().Add(time.Second))
	if err := r.sampler.sample(); err != nil {
		t.Fatal(err)
	}
}

// keepTenantBusy creates, advances and completes activities, and now and
// then makes a bulk refresh of activities sharing one instant.
func (r *restartRun) keepTenantBusy(ctx context.Context) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		r.busy.Lock()
		r.tenant.Step()
		if n%40 == 39 {
			r.tenant.BulkRefresh(300)
		}
		r.busy.Unlock()
	}
}

// stopDuringWrite freezes the exporter (SIGSTOP) while its state file's
// temporary file exists, that is in the middle of a write; a write that
// ended between the look and the stop is let go (SIGCONT) and the next one
// is waited for. It returns with the process stopped for the kill.
func (r *restartRun) stopDuringWrite(p *process) {
	for r.ctx.Err() == nil {
		if _, err := os.Stat(r.statePath + ".tmp"); err == nil {
			_ = p.cmd.Process.Signal(syscall.SIGSTOP)
			if _, err := os.Stat(r.statePath + ".tmp"); err == nil {
				return
			}
			_ = p.cmd.Process.Signal(syscall.SIGCONT)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// restart starts the exporter again with the tenant held still until its
// first refresh has ended, and checks what that refresh cost: with a state
// file, the pages of what ISC holds from where the file says to read on
// (changes since the last write, and the overlap before it), exactly; that
// is what makes a restart cheaper than priming.
func (r *restartRun) restart() *process {
	r.busy.Lock()
	defer r.busy.Unlock()
	changed := -1
	if r.statePath != "" {
		if raw, err := os.ReadFile(r.statePath); err == nil {
			c, err := state.Parse(raw, state.Identity{URL: r.url, ClientID: restartClientID})
			if err != nil {
				r.t.Fatalf("the state file after kill %d: %v", r.kills, err)
			}
			// The first refresh comes within the minute: what it reads is
			// at most what a refresh in that minute would.
			from, err := activities.ResumePoint(c.Sections[state.SectionActivities], c.Sections[activities.SectionLate], restartOverlap, 0, time.Now(), time.Minute)
			if err != nil {
				r.t.Fatal(err)
			}
			changed = r.modifiedSince(from)
		}
	}
	restart := time.Now()
	p := r.start()
	requests := r.requestsUntilRefreshed(restart)
	r.restartRequests = append(r.restartRequests, requests)
	// One page per 250 records read, and the last page short (or empty).
	if limit := changed/250 + 1; changed >= 0 && requests > limit {
		r.t.Errorf("restart %d sent %d list requests; %d records are modified since where the state file says to read from: %d pages", r.kills, requests, changed, limit)
	}
	return p
}

// requestsUntilRefreshed waits until the exporter reports a successful
// refresh that began after since, and returns how many list requests the
// first such refresh sent: the pages it says it read in the line it logs as
// it ends (at debug level), one a request. Not the requests the tenant
// received up to the success timestamp scraped: a refresh that overran its
// interval is followed at once by the next, which may have moved it by the
// time it is scraped; nor the smallest page the check at start asks for.
func (r *restartRun) requestsUntilRefreshed(since time.Time) int {
	r.t.Helper()
	for r.ctx.Err() == nil {
		if s, err := scrapeSeries(r.ctx, r.sampler.url); err == nil {
			if last := s[seriesKey("sailpoint_last_refresh_success_timestamp_seconds", nil)]; last > float64(since.UnixMilli())/1000 {
				if pages, ok := r.pagesOfRefreshAfter(since); ok {
					return pages
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	out, _ := os.ReadFile(r.logPath)
	r.t.Fatalf("the exporter did not refresh successfully after %s; log tail:\n%s", since.Format(time.StampMilli), tail(out, 6000))
	return 0
}

// pagesOfRefreshAfter reads, from the exporter's log, the pages of the
// first refresh that ended after since.
func (r *restartRun) pagesOfRefreshAfter(since time.Time) (int, bool) {
	raw, err := os.ReadFile(r.logPath)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.Contains(line, `msg="refreshed from ISC"`) {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(strings.Fields(line)[0], "time="))
		if err != nil || at.Before(since.Truncate(time.Millisecond)) {
			continue
		}
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "pages="); ok {
				n, err := strconv.Atoi(v)
				return n, err == nil
			}
		}
	}
	return 0, false
}

type process struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func (r *restartRun) start() *process {
	r.t.Helper()
	log, err := os.OpenFile(r.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		r.t.Fatal(err)
	}
	cmd := exec.CommandContext(r.ctx, r.bin, r.args...)
	cmd.Env = []string{"SAIL_CLIENT_SECRET=" + restartSecret}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); _ = log.Close(); close(p.done) }()
	r.t.Cleanup(p.kill)
	return p
}

func (p *process) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// sampler scrapes the exporter every few hundred milliseconds and records
// every counter that is lower than the highest value seen before, across
// restarts too. Counters of the process's own work (API requests, state
// writes, process_* and go_*) restart with the process, as every
// Prometheus process counter does; the counters of the activities must not.
type sampler struct {
	url       string
	mu        sync.Mutex
	last      map[string]float64
	samples   int
	decreases []string
}

func (s *sampler) run(ctx context.Context) {
	for ctx.Err() == nil {
		_ = s.sample()
		sleep(ctx, 200*time.Millisecond)
	}
}

func (s *sampler) sample() error {
	series, err := scrapeSeries(context.Background(), s.url)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples++
	for k, v := range series {
		if !persisted(k) {
			continue
		}
		if prev, ok := s.last[k]; ok && v < prev {
			s.decreases = append(s.decreases, fmt.Sprintf("%s from %v to %v", k, prev, v))
		}
		s.last[k] = max(v, s.last[k])
	}
	return nil
}

// persisted reports whether a series is one of the activity counters the
// state file keeps.
func persisted(key string) bool {
	return strings.HasPrefix(key, "sailpoint_account_activities_completed_total") ||
		strings.HasPrefix(key, "sailpoint_account_activity_items_completed_total") ||
		strings.HasPrefix(key, "sailpoint_account_activity_errors_total") ||
		strings.HasPrefix(key, "sailpoint_account_activity_warnings_total") ||
		strings.HasPrefix(key, "sailpoint_account_activity_duration_seconds") ||
		strings.HasPrefix(key, "sailpoint_label_overflow_total")
}

// scrapeSeries returns every sample of /metrics by series key: name and
// sorted labels; a histogram as its _bucket, _sum and _count series.
func scrapeSeries(ctx context.Context, url string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, errors.New(resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return parseSeries(body)
}

// parseSeries is scrapeSeries for an answer already read.
func parseSeries(body []byte) (map[string]float64, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[seriesKey(name, labels)] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[seriesKey(name, labels)] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				out[seriesKey(name+"_count", labels)] = float64(h.GetSampleCount())
				out[seriesKey(name+"_sum", labels)] = h.GetSampleSum()
				for _, b := range h.GetBucket() {
					out[seriesKey(name+"_bucket", withLabel(labels, "le", fmt.Sprint(b.GetUpperBound())))] = float64(b.GetCumulativeCount())
				}
			}
		}
	}
	return out, nil
}

func withLabel(labels map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range labels {
		out[a] = b
	}
	return out
}

func seriesKey(name string, labels map[string]string) string {
	names := make([]string, 0, len(labels))
	for k := range labels {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i, k := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", k, labels[k])
	}
	b.WriteByte('}')
	return b.String()
}

// durationBuckets are the exporter's buckets of
// sailpoint_account_activity_duration_seconds.
var durationBuckets = []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800, 86400, 259200, 604800, math.Inf(1)}

// truthSeries is what the exporter should serve for the counters, from the
// tenant's ground truth since the first start. buckets are the exporter's.
func (r *restartRun) truthSeries(buckets []float64) map[string]float64 {
	tr := r.tenant.TruthSince(r.mark)
	out := map[string]float64{}
	for k, v := range tr.Completed {
		out[seriesKey("sailpoint_account_activities_completed_total", map[string]string{"type": k[0], "completion_status": k[1], "execution_status": k[2]})] = float64(v)
	}
	for k, v := range tr.ItemsCompleted {
		out[seriesKey("sailpoint_account_activity_items_completed_total", map[string]string{"type": k[0], "provisioning_status": k[1], "operation": k[2], "source_id": k[3]})] = float64(v)
	}
	for typ, v := range tr.Errors {
		out[seriesKey("sailpoint_account_activity_errors_total", map[string]string{"type": typ})] = float64(v)
	}
	for typ, v := range tr.Warnings {
		out[seriesKey("sailpoint_account_activity_warnings_total", map[string]string{"type": typ})] = float64(v)
	}
	for k, obs := range tr.Durations {
		labels := map[string]string{"type": k[0], "completion_status": k[1]}
		sum := 0.0
		for _, d := range obs {
			sum += d
		}
		out[seriesKey("sailpoint_account_activity_duration_seconds_count", labels)] = float64(len(obs))
		out[seriesKey("sailpoint_account_activity_duration_seconds_sum", labels)] = sum
		for _, le := range buckets {
			n := 0
			for _, d := range obs {
				if d <= le {
					n++
				}
			}
			out[seriesKey("sailpoint_account_activity_duration_seconds_bucket", withLabel(labels, "le", fmt.Sprint(le)))] = float64(n)
		}
	}
	return out
}

// compareWithTruth fails for every counter series that differs from ground
// truth, and returns how many completions the exporter counted differently.
func (r *restartRun) compareWithTruth(t *testing.T) float64 {
	t.Helper()
	got := r.sampler.lastSeries()
	want := r.truthSeries(durationBuckets)
	total, off := 0.0, 0.0
	for k, v := range want {
		if strings.HasPrefix(k, "sailpoint_account_activities_completed_total") {
			total += v
			off += math.Abs(got[k] - v)
		}
		g := got[k]
		if strings.Contains(k, "_sum{") {
			if math.Abs(g-v) > 1e-6*max(1, v) {
				t.Errorf("%s = %v, ground truth %v", k, g, v)
			}
			continue
		}
		if g != v {
			t.Errorf("%s = %v, ground truth %v", k, g, v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok && v != 0 && persisted(k) && !strings.HasPrefix(k, "sailpoint_label_overflow_total") {
			t.Errorf("%s = %v, ground truth has no such series", k, v)
		}
	}
	if total < 1000 {
		t.Errorf("only %v completions during the run; it proves little", total)
	}
	t.Logf("%v completions during the run, %d samples of /metrics", total, r.sampler.samples)
	return off
}

// totals returns the completions of ground truth and those counted.
func (r *restartRun) totals() (truth, counted int) {
	for _, v := range r.tenant.TruthSince(r.mark).Completed {
		truth += v
	}
	for k, v := range r.sampler.lastSeries() {
		if strings.HasPrefix(k, "sailpoint_account_activities_completed_total") {
			counted += int(v)
		}
	}
	return truth, counted
}

// lastSeries is the last sample, for the persisted counters.
func (s *sampler) lastSeries() map[string]float64 {
	series, err := scrapeSeries(context.Background(), s.url)
	if err != nil {
		return nil
	}
	return series
}

func median(v []int) int {
	s := slices.Sorted(slices.Values(v))
	return s[len(s)/2]
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// modifiedSince asks the tenant, as a client would, how many activities
// were modified at or after t.
// modifiedSince counts what the tenant holds from cursor on, through the
// API as the exporter would read it.
func (r *restartRun) modifiedSince(from client.Cursor) int {
	r.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {restartClientID}, "client_secret": {restartSecret}}
	resp, err := http.PostForm(r.url+"/oauth/token", form)
	if err != nil {
		r.t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	_ = resp.Body.Close()
	if err != nil {
		r.t.Fatal(err)
	}
	op := "ge"
	if from.After {
		op = "gt"
	}
	q := url.Values{"limit": {"1"}, "count": {"true"}, "filters": {"modified " + op + " " + from.Modified.UTC().Format(time.RFC3339Nano)}}
	req, _ := http.NewRequestWithContext(r.ctx, http.MethodGet, r.url+"/v3/account-activities?"+strings.ReplaceAll(q.Encode(), "+", "%20"), nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	_ = resp.Body.Close()
	n, err := strconv.Atoi(resp.Header.Get("X-Total-Count"))
	if err != nil {
		r.t.Fatalf("count of activities modified since %v: %s %v", from, resp.Status, err)
	}
	return n
}
