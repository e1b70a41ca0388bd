package e2e

import (
	"bufio"
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
	"github.com/sailpoint-exporter/sailpoint_exporter/aggregations"
	"github.com/sailpoint-exporter/sailpoint_exporter/client"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant/simtest"
	"github.com/sailpoint-exporter/sailpoint_exporter/state"
)

const (
	// restartOverlap is shorter than the default 5m so that what a restart
	// reads again stays well below a priming within the test's minute.
	restartOverlap  = 20 * time.Second
	restartClientID = "restart-client"
	restartSecret   = "restart-secret-never-logged"
	killsWanted     = 22
	// twoTenantKills is fewer than killsWanted: every restart of the
	// two-tenant exporter reads two state files and refreshes two tenants.
	twoTenantKills = 14
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

	tn := r.tenants[0]
	t.Logf("%d kills, %d of them while a state write was in progress; %d counter decreases; list requests per restart: max %d, median %d, priming %d",
		r.kills, r.hitWrite, len(r.sampler.decreases), slices.Max(tn.restartRequests), median(tn.restartRequests), tn.primingRequests)
	if tn.seenLate > 0 {
		t.Logf("first refresh's success polled late: %d, told apart by the tenant", tn.seenLate)
	}
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
	if worst := slices.Max(tn.restartRequests); worst >= tn.primingRequests {
		t.Errorf("a restart sent %d list requests, priming %d: the state file should spare the re-read", worst, tn.primingRequests)
	}
}

// The same with two tenants in a configuration file, each with its own
// state file: killed at random moments, some of them in the middle of the
// one tenant's state write, some in the other's, the exporter loses nothing
// in either tenant, counts nothing of one in the other, and a restart reads
// each tenant's changes only.
func TestKilledExporterWithTwoTenantsLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the built exporter; run it without -short")
	}
	t.Parallel()
	// Each history a little smaller than the single tenant's, priming still
	// over 40 list requests per tenant.
	r := newKillRun(t, 43, []tenantSpec{
		{name: "sandbox", seed: 43, history: 10_000},
		{name: "production", seed: 47, history: 10_000},
	}, true)
	r.run(twoTenantKills)

	t.Logf("%d kills, %d of them while a state write was in progress; %d counter decreases", r.kills, r.hitWrite, len(r.sampler.decreases))
	for _, tn := range r.tenants {
		t.Logf("%-10s kills in the middle of its state write %d; list requests per restart: max %d, median %d, priming %d; first refresh's success polled late: %d",
			tn.name, tn.hitWrite, slices.Max(tn.restartRequests), median(tn.restartRequests), tn.primingRequests, tn.seenLate)
	}
	if r.kills < twoTenantKills {
		t.Errorf("only %d kills", r.kills)
	}
	for _, tn := range r.tenants {
		if tn.hitWrite == 0 {
			t.Errorf("no kill hit a state write of %s in progress; the test proves less than it says", tn.name)
		}
	}
	for _, d := range r.sampler.decreases {
		t.Errorf("counter went down: %s", d)
	}
	if missing := r.compareWithTruth(t); missing != 0 {
		t.Errorf("%v completions counted differently from ground truth", missing)
	}
	for _, tn := range r.tenants {
		if worst := slices.Max(tn.restartRequests); worst >= tn.primingRequests {
			t.Errorf("%s: a restart sent %d list requests, priming %d: the state file should spare the re-read", tn.name, worst, tn.primingRequests)
		}
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

// restartRun is one exporter process, killed and restarted again and
// again, watching one or more simulated tenants.
type restartRun struct {
	t         *testing.T
	ctx       context.Context
	tenants   []*restartTenant
	bin, addr string
	args      []string
	env       []string
	logPath   string
	sampler   *sampler
	rng       *rand.Rand

	// kills, and those with a state write of any tenant in progress.
	kills, hitWrite int
	// running is the exporter last started: a wait for what it serves ends
	// when it exits, with its log, rather than at the run's deadline.
	running *process

	// busy is held by the stream of tenant changes while it changes any
	// tenant, and by a restart while it must see every tenant still: what a
	// restart reads is then exactly what ISC held when it started.
	busy sync.Mutex
}

// restartTenant is one simulated tenant of a restartRun, and what the run
// measured of it.
type restartTenant struct {
	// name is the tenant label's value; "" for the single tenant of a
	// command line without a configuration file, which has no label.
	name      string
	sim       *simtenant.Tenant
	url       string
	secret    string
	statePath string // "" without a state file
	mark      simtest.Mark

	// countingSince is when the aggregations began counting, from the
	// state file: the tenant finishes a task at its planned instant when it
	// next steps, so one logged after the mark may have finished before.
	countingSince time.Time

	hitWrite int // kills in the middle of this tenant's state write
	// seenLate counts the first refreshes whose success the test's polling
	// saw only after a later refresh's (see startAndCount).
	seenLate        int
	restartRequests []int
	primingRequests int
}

// exposed is how /metrics writes one of the tenant's series without labels
// of its own.
func (tn *restartTenant) exposed(name string) string {
	if tn.name == "" {
		return name
	}
	return fmt.Sprintf("%s{tenant=%q}", name, tn.name)
}

// label names the tenant in messages.
func (tn *restartTenant) label() string {
	if tn.name == "" {
		return "the tenant"
	}
	return tn.name
}

// tenantSpec is a simulated tenant to create.
type tenantSpec struct {
	name    string // "": the single tenant of the command line
	seed    int64
	history int // activities created over the 20 hours before the start
}

// newRestartRun is one tenant, given on the command line.
func newRestartRun(t *testing.T, withState bool) *restartRun {
	return newKillRun(t, 41, []tenantSpec{{seed: 41, history: 11_000}}, withState)
}

// newKillRun creates the tenants and the exporter's command line: flags for
// one unnamed tenant, else a configuration file of the named ones with the
// same flags as every tenant's defaults. seed drives the kills' moments.
func newKillRun(t *testing.T, seed uint64, specs []tenantSpec, withState bool) *restartRun {
	// The budget only bounds a run that hangs: nothing is asserted against
	// the clock, so a busy machine makes the test slower, never red.
	ctx, cancel := context.WithTimeout(t.Context(), time.Duration(9+3*len(specs))*time.Minute)
	t.Cleanup(cancel)
	dir := t.TempDir()
	r := &restartRun{
		t: t, ctx: ctx, bin: buildExporter(ctx, t), addr: freeAddr(ctx, t),
		logPath: filepath.Join(dir, "exporter.log"),
		rng:     rand.New(rand.NewPCG(seed, 7)),
	}
	for _, spec := range specs {
		secret := restartSecret
		if spec.name != "" {
			secret += "-" + spec.name
		}
		// Aggregations every 10 s for each of 30 sources, so that hundreds
		// finish, out of order, while the exporter is killed again and again.
		sim := simtest.New(simtenant.Config{Seed: spec.seed, RateLimit: -1, Clients: map[string]string{restartClientID: secret},
			TaskSources: 30, TaskEvery: 10 * time.Second})
		// Enough history that priming takes over 40 list requests, so that a
		// restart's single refresh proves it spared them.
		sim.SeedHistory(spec.history, 20*time.Hour)
		sim.SeedTaskHistory(time.Hour)
		u, err := sim.Start()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sim.Close() })
		tn := &restartTenant{name: spec.name, sim: sim, url: u, secret: secret}
		if withState {
			tn.statePath = filepath.Join(dir, "state")
			if spec.name != "" {
				tn.statePath = filepath.Join(dir, spec.name+".state")
			}
		}
		r.tenants = append(r.tenants, tn)
	}
	perTenant := []string{"--activities.refresh-interval=500ms", "--isc.requests-per-second=1000", "--log.level=debug",
		"--activities.overlap=" + restartOverlap.String(), "--aggregations.refresh-interval=700ms"}
	if len(specs) == 1 && specs[0].name == "" {
		tn := r.tenants[0]
		r.args = append([]string{"--isc.url=" + tn.url, "--isc.client-id=" + restartClientID, "--web.listen-address=" + r.addr}, perTenant...)
		if withState {
			r.args = append(r.args, "--state.file="+tn.statePath)
		}
		r.env = []string{"SAIL_CLIENT_SECRET=" + tn.secret}
	} else {
		var config strings.Builder
		config.WriteString("tenants:\n")
		for _, tn := range r.tenants {
			env := "SAIL_KILL_SECRET_" + strings.ToUpper(tn.name)
			fmt.Fprintf(&config, "  - name: %s\n    url: %s\n    client_id: %s\n    client_secret_env: %s\n", tn.name, tn.url, restartClientID, env)
			if tn.statePath != "" {
				fmt.Fprintf(&config, "    state_file: %s\n", tn.statePath)
			}
			r.env = append(r.env, env+"="+tn.secret)
		}
		path := filepath.Join(dir, "tenants.yml")
		writeFile(t, path, config.String())
		r.args = append([]string{"--config.file=" + path, "--web.listen-address=" + r.addr}, perTenant...)
	}
	r.sampler = &sampler{url: "http://" + r.addr + "/metrics", last: map[string]float64{}}
	return r
}

// withState reports whether the tenants have state files.
func (r *restartRun) withState() bool { return r.tenants[0].statePath != "" }

// run starts the exporter, keeps the tenants busy, kills and restarts the
// exporter kills times, then lets it catch up.
func (r *restartRun) run(kills int) {
	t := r.t
	for _, tn := range r.tenants {
		tn.mark = simtest.Truth(tn.sim).Mark()
	}
	started := time.Now()
	p, priming := r.startAndCount()
	for i, n := range priming {
		r.tenants[i].primingRequests = n
	}
	// And the aggregations' first pass: kills begin once both areas count.
	r.waitForAggregations(r.each(started))
	for _, tn := range r.tenants {
		if tn.statePath != "" {
			c := r.readState(tn)
			if c == nil {
				t.Fatalf("%s: no state file after the first refresh", tn.label())
			}
			var err error
			if tn.countingSince, err = aggregations.CountingSince(c.Sections[aggregations.SectionName]); err != nil || tn.countingSince.IsZero() {
				t.Fatalf("%s: when the aggregations began counting: %v %v", tn.label(), tn.countingSince, err)
			}
		}
		// A restart reads a dozen pages at most (the changes since the last
		// write and the overlap); priming four times that proves it spared
		// the re-read.
		if tn.primingRequests < 40 {
			t.Fatalf("%s: priming took %d list requests; the history is too small to prove a restart spares it", tn.label(), tn.primingRequests)
		}
	}

	stream, stopStream := context.WithCancel(r.ctx)
	var wg sync.WaitGroup
	wg.Go(func() { r.keepTenantsBusy(stream) })
	wg.Go(func() { r.sampler.run(stream) })

	for r.kills < kills && r.ctx.Err() == nil {
		if r.kills%2 == 0 && r.withState() {
			// Freeze the exporter in the middle of a state write, then kill
			// it: each tenant's write in turn.
			r.stopDuringWrite(p, r.tenants[(r.kills/2)%len(r.tenants)])
		} else {
			sleep(r.ctx, time.Duration(300+r.rng.IntN(1500))*time.Millisecond)
		}
		p.kill()
		r.kills++
		hit := false
		for _, tn := range r.tenants {
			if tn.statePath == "" {
				continue
			}
			if _, err := os.Stat(tn.statePath + ".tmp"); err == nil {
				tn.hitWrite++
				hit = true
			}
		}
		if hit {
			r.hitWrite++
		}
		// ISC goes on while the exporter is down.
		sleep(r.ctx, time.Duration(100+r.rng.IntN(1200))*time.Millisecond)
		p = r.restart()
	}
	stopStream()
	wg.Wait()
	// Let the exporter read everything that happened: a refresh of each
	// area of each tenant that began after the tenants stopped. A success
	// after the stop may be a refresh that began before it; the success
	// after that one began after it.
	stopped := time.Now()
	r.requestsUntilRefreshedAt(r.requestsUntilRefreshedAt(r.each(stopped)))
	r.waitForAggregations(r.waitForAggregations(r.each(stopped)))
	if err := r.sampler.sample(); err != nil {
		t.Fatal(err)
	}
}

// each is one instant for every tenant.
func (r *restartRun) each(at time.Time) []time.Time {
	out := make([]time.Time, len(r.tenants))
	for i := range out {
		out[i] = at
	}
	return out
}

// readState reads and parses a tenant's state file; nil if there is none.
func (r *restartRun) readState(tn *restartTenant) *state.Contents {
	raw, err := os.ReadFile(tn.statePath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		r.t.Fatal(err)
	}
	c, err := state.Parse(raw, state.Identity{URL: tn.url, ClientID: restartClientID})
	if err != nil {
		r.t.Fatalf("%s: the state file after kill %d: %v", tn.label(), r.kills, err)
	}
	return c
}

// keepTenantsBusy creates, advances and completes activities in every
// tenant, and now and then makes a bulk refresh of activities sharing one
// instant.
func (r *restartRun) keepTenantsBusy(ctx context.Context) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		r.busy.Lock()
		for _, tn := range r.tenants {
			tn.sim.Step()
			if n%40 == 39 {
				tn.sim.BulkRefresh(300)
			}
		}
		r.busy.Unlock()
	}
}

// stopDuringWrite freezes the exporter (SIGSTOP) while the tenant's state
// file's temporary file exists, that is in the middle of its write; a write
// that ended between the look and the stop is let go (SIGCONT) and the
// next one is waited for. It returns with the process stopped for the kill.
func (r *restartRun) stopDuringWrite(p *process, tn *restartTenant) {
	for r.ctx.Err() == nil {
		if _, err := os.Stat(tn.statePath + ".tmp"); err == nil {
			_ = p.cmd.Process.Signal(syscall.SIGSTOP)
			if _, err := os.Stat(tn.statePath + ".tmp"); err == nil {
				return
			}
			_ = p.cmd.Process.Signal(syscall.SIGCONT)
		}
		r.exitedEarly()
		time.Sleep(100 * time.Microsecond)
	}
}

// restart starts the exporter again with every tenant held still until its
// first refresh has ended, and checks what that refresh cost each tenant:
// with a state file, the pages of what ISC holds from where the file says
// to read on (changes since the last write, and the overlap before it),
// exactly; that is what makes a restart cheaper than priming.
func (r *restartRun) restart() *process {
	r.busy.Lock()
	defer r.busy.Unlock()
	changed := make([]int, len(r.tenants))
	for i, tn := range r.tenants {
		changed[i] = -1
		if tn.statePath == "" {
			continue
		}
		if c := r.readState(tn); c != nil {
			// The first refresh comes within the minute: what it reads
			// again is at most what a refresh in that minute would.
			from, err := activities.ResumePoint(c.Sections[state.SectionActivities], c.Sections[activities.SectionLate], restartOverlap, 0, time.Now(), time.Minute)
			if err != nil {
				r.t.Fatal(err)
			}
			changed[i] = r.modifiedSince(tn, from)
		}
	}
	p, counts := r.startAndCount()
	for i, requests := range counts {
		tn := r.tenants[i]
		tn.restartRequests = append(tn.restartRequests, requests)
		// One page per 250 records read, and the last page short (or empty).
		if limit := changed[i]/250 + 1; changed[i] >= 0 && requests > limit {
			r.t.Errorf("%s: restart %d sent %d list requests; %d records are modified since where the state file says to read from: %d pages",
				tn.label(), r.kills, requests, changed[i], limit)
		}
	}
	return p
}

// startAndCount starts the exporter and returns it, with how many list
// requests each tenant's first activities refresh sent: those the tenant
// received from the start up to that refresh's success, which comes after
// its last request and before the next refresh's first.
//
// Which success is the first is not left to the test's polling, which a
// busy machine slows (and a refresh longer than the interval is followed
// at once by the next): the tenant looks at /metrics before every list
// request it answers, the exporter waiting for the answer. A request that
// finds a success past the start is of a later refresh, and the success it
// finds is the first, since no refresh after it has ended yet.
func (r *restartRun) startAndCount() (*process, []int) {
	r.t.Helper()
	since := time.Now()
	var mu sync.Mutex
	noted := make([]time.Time, len(r.tenants))
	for i, tn := range r.tenants {
		simtest.Faults(tn.sim).OnList(func(int) {
			mu.Lock()
			done := !noted[i].IsZero()
			mu.Unlock()
			if done {
				return
			}
			if last := r.successPast(tn, since); !last.IsZero() {
				mu.Lock()
				noted[i] = last
				mu.Unlock()
			}
		})
	}
	p := r.start()
	ends := r.requestsUntilRefreshedAt(r.each(since))
	for _, tn := range r.tenants {
		simtest.Faults(tn.sim).OnList(nil)
	}
	mu.Lock()
	defer mu.Unlock()
	out := make([]int, len(r.tenants))
	for i, tn := range r.tenants {
		end := ends[i]
		if !noted[i].IsZero() && noted[i].Before(end) {
			// The test saw a later success than the first.
			end = noted[i]
			tn.seenLate++
		}
		out[i] = tn.listRequestsBetween(since, end)
	}
	return p, out
}

// successPast is the tenant's last activities success as /metrics says it
// now, if it is past since; zero if it is not, or if the exporter does not
// listen yet (the check at start, before any refresh).
func (r *restartRun) successPast(tn *restartTenant, since time.Time) time.Time {
	const gauge = "sailpoint_last_refresh_success_timestamp_seconds"
	for r.ctx.Err() == nil {
		last, err := scrapeOne(r.ctx, r.sampler.url, tn.exposed(gauge))
		if errors.Is(err, syscall.ECONNREFUSED) {
			return time.Time{}
		}
		if err == nil {
			if last > float64(since.UnixMilli())/1000 {
				return time.UnixMilli(int64(last * 1000))
			}
			return time.Time{}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Time{}
}

// scrapeOne reads one sample of /metrics, by its series as exposed, without
// parsing the rest: cheap enough to run before every list request. A
// series /metrics does not have reads as 0.
func scrapeOne(ctx context.Context, url, series string) (float64, error) {
	values, err := scrapeSome(ctx, url, []string{series})
	return values[series], err
}

// scrapeSome reads the value of each of series, written as /metrics writes
// it (name{labels}), from one scrape; a series not there is left out. It
// reads the lines it looks for and parses nothing else: the tests poll
// /metrics, whose full parse took most of their CPU.
func scrapeSome(ctx context.Context, url string, series []string) (map[string]float64, error) {
	body, err := scrapeBody(ctx, url)
	if err != nil {
		return nil, err
	}
	out := make(map[string]float64, len(series))
	lines := bufio.NewScanner(bytes.NewReader(body))
	lines.Buffer(make([]byte, 64*1024), 1024*1024)
	for lines.Scan() && len(out) < len(series) {
		line := lines.Text()
		for _, name := range series {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
				out[name] = f
			}
		}
	}
	// A series not there has had no success yet.
	return out, lines.Err()
}

// scrapeBody is one answer of /metrics, which must be a 200.
func scrapeBody(ctx context.Context, url string) ([]byte, error) {
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
	return io.ReadAll(resp.Body)
}

// waitForAggregations waits until the aggregations of every tenant report
// a successful read that ended after the tenant's since, and returns when
// each ended.
func (r *restartRun) waitForAggregations(since []time.Time) []time.Time {
	return r.waitForSuccess("sailpoint_aggregations_last_success_timestamp_seconds", since)
}

// requestsUntilRefreshedAt waits until the activities of every tenant
// report a successful refresh that ended after the tenant's since, and
// returns when each ended.
func (r *restartRun) requestsUntilRefreshedAt(since []time.Time) []time.Time {
	return r.waitForSuccess("sailpoint_last_refresh_success_timestamp_seconds", since)
}

// waitForSuccess waits until the gauge of every tenant is past the
// tenant's since, and returns each one's first value seen past it. The
// tenants are watched together, so that a tenant's first success after
// since is the one seen, however long another takes.
func (r *restartRun) waitForSuccess(gauge string, since []time.Time) []time.Time {
	r.t.Helper()
	out := make([]time.Time, len(r.tenants))
	waiting := len(r.tenants)
	series := make([]string, len(r.tenants))
	for i, tn := range r.tenants {
		series[i] = tn.exposed(gauge)
	}
	for r.ctx.Err() == nil && waiting > 0 {
		if s, err := scrapeSome(r.ctx, r.sampler.url, series); err == nil {
			for i := range r.tenants {
				if last := s[series[i]]; out[i].IsZero() && last > float64(since[i].UnixMilli())/1000 {
					out[i] = time.UnixMilli(int64(last * 1000))
					waiting--
				}
			}
		}
		if waiting > 0 {
			r.exitedEarly()
			time.Sleep(50 * time.Millisecond)
		}
	}
	if waiting > 0 {
		var late []string
		for i, tn := range r.tenants {
			if out[i].IsZero() {
				late = append(late, fmt.Sprintf("%s after %s", tn.label(), since[i].Format(time.StampMilli)))
			}
		}
		out, _ := os.ReadFile(r.logPath)
		r.t.Fatalf("%s did not move past: %s; log tail:\n%s", gauge, strings.Join(late, ", "), tail(out, 6000))
	}
	return out
}

// listRequestsBetween counts the list requests of the activities' scans
// the tenant received after from and up to to: those with a filter, not the
// check at start's smallest page.
func (tn *restartTenant) listRequestsBetween(from, to time.Time) int {
	n := 0
	for _, q := range tn.sim.Requests() {
		if q.Endpoint == "list" && strings.Contains(q.RawQuery, "filters=") && q.Time.After(from) && !q.Time.After(to) {
			n++
		}
	}
	return n
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
	cmd.Env = r.env
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); _ = log.Close(); close(p.done) }()
	r.t.Cleanup(p.kill)
	r.running = p
	return p
}

// exitedEarly fails the test when the exporter last started has exited
// (a kill is always followed by a start before anything is waited for).
func (r *restartRun) exitedEarly() {
	r.t.Helper()
	select {
	case <-r.running.done:
		out, _ := os.ReadFile(r.logPath)
		r.t.Fatalf("the exporter exited (%v) while the test waited for it; log tail:\n%s", r.running.cmd.ProcessState, tail(out, 6000))
	default:
	}
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
	series, err := scrapePersisted(context.Background(), s.url)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples++
	for k, v := range series {
		if prev, ok := s.last[k]; ok && v < prev {
			s.decreases = append(s.decreases, fmt.Sprintf("%s from %v to %v", k, prev, v))
		}
		s.last[k] = max(v, s.last[k])
	}
	return nil
}

// scrapePersisted reads the series that persisted keeps from one scrape,
// each keyed as /metrics writes it (the labels in the order client_golang
// writes them, the same in every scrape), and parses no other line.
func scrapePersisted(ctx context.Context, url string) (map[string]float64, error) {
	body, err := scrapeBody(ctx, url)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	lines := bufio.NewScanner(bytes.NewReader(body))
	lines.Buffer(make([]byte, 64*1024), 1024*1024)
	for lines.Scan() {
		line := lines.Text()
		if !persisted(line) {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			return nil, fmt.Errorf("a line without a value: %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", line, err)
		}
		out[line[:i]] = v
	}
	return out, lines.Err()
}

// persisted reports whether a series is one of the activity counters the
// state file keeps.
func persisted(key string) bool {
	return strings.HasPrefix(key, "sailpoint_account_activities_completed_total") ||
		strings.HasPrefix(key, "sailpoint_account_activity_items_completed_total") ||
		strings.HasPrefix(key, "sailpoint_account_activity_errors_total") ||
		strings.HasPrefix(key, "sailpoint_account_activity_warnings_total") ||
		strings.HasPrefix(key, "sailpoint_account_activity_duration_seconds") ||
		strings.HasPrefix(key, "sailpoint_source_aggregations_completed_total") ||
		strings.HasPrefix(key, "sailpoint_source_aggregation_duration_seconds") ||
		strings.HasPrefix(key, "sailpoint_label_overflow_total")
}

// scrapeSeries returns every sample of /metrics by series key: name and
// sorted labels; a histogram as its _bucket, _sum and _count series.
func scrapeSeries(ctx context.Context, url string) (map[string]float64, error) {
	body, err := scrapeBody(ctx, url)
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

// truthSeries is what the exporter should serve for a tenant's counters,
// from the simulated tenant's ground truth since mark, the aggregations'
// since countingSince (zero: all since mark), keyed without a tenant label.
// buckets are the exporter's.
func truthSeries(sim *simtenant.Tenant, mark simtest.Mark, countingSince time.Time, buckets []float64) map[string]float64 {
	tr := simtest.Truth(sim).TruthSince(mark)
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
	tt := simtest.Truth(sim).TaskTruthFinishedSince(mark, countingSince)
	for k, v := range tt.Finished {
		out[seriesKey("sailpoint_source_aggregations_completed_total", map[string]string{"source_id": k[0], "type": k[1], "completion_status": k[2]})] = float64(v)
	}
	byTypeStatus := map[[2]string][]float64{}
	for k, obs := range tt.Durations {
		byTypeStatus[[2]string{k[1], k[2]}] = append(byTypeStatus[[2]string{k[1], k[2]}], obs...)
	}
	for k, obs := range byTypeStatus {
		labels := map[string]string{"type": k[0], "completion_status": k[1]}
		sum := 0.0
		for _, d := range obs {
			sum += d
		}
		out[seriesKey("sailpoint_source_aggregation_duration_seconds_count", labels)] = float64(len(obs))
		out[seriesKey("sailpoint_source_aggregation_duration_seconds_sum", labels)] = sum
		for _, le := range aggregationBuckets {
			n := 0
			for _, d := range obs {
				if d <= le {
					n++
				}
			}
			out[seriesKey("sailpoint_source_aggregation_duration_seconds_bucket", withLabel(labels, "le", fmt.Sprint(le)))] = float64(n)
		}
	}
	return out
}

// aggregationBuckets are the aggregation duration histogram's bounds.
var aggregationBuckets = []float64{10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 43200, 86400, math.Inf(1)}

// compareWithTruth fails for every counter series that differs from ground

// compareWithTruth fails for every counter series of a tenant that differs
// from its ground truth, and for every counter series of no tenant the run
// watches (one tenant's counts under another's name, say), and returns how
// many completions and aggregations the exporter counted differently.
func (r *restartRun) compareWithTruth(t *testing.T) float64 {
	t.Helper()
	all := r.sampler.lastSeries()
	off := 0.0
	for _, tn := range r.tenants {
		got := all
		if tn.name != "" {
			got = forTenant(all, tn.name)
		}
		want := truthSeries(tn.sim, tn.mark, tn.countingSince, durationBuckets)

		total, aggregations := 0.0, 0.0
		for k, v := range want {
			if strings.HasPrefix(k, "sailpoint_account_activities_completed_total") {
				total += v
				off += math.Abs(got[k] - v)
			}
			if strings.HasPrefix(k, "sailpoint_source_aggregations_completed_total") {
				aggregations += v
				off += math.Abs(got[k] - v)
			}
			g := got[k]
			if strings.Contains(k, "_sum{") {
				if math.Abs(g-v) > 1e-6*max(1, v) {
					t.Errorf("%s: %s = %v, ground truth %v", tn.label(), k, g, v)
				}
				continue
			}
			if g != v {
				t.Errorf("%s: %s = %v, ground truth %v", tn.label(), k, g, v)
			}
		}
		for k, v := range got {
			if _, ok := want[k]; !ok && v != 0 && persisted(k) && !strings.HasPrefix(k, "sailpoint_label_overflow_total") {
				t.Errorf("%s: %s = %v, ground truth has no such series", tn.label(), k, v)
			}
		}
		if total < 1000 || aggregations < 50 {
			t.Errorf("%s: only %v completions and %v aggregations during the run; it proves little", tn.label(), total, aggregations)
		}
		if tn.name == "" {
			t.Logf("%v completions and %v aggregations finished during the run, %d samples of /metrics", total, aggregations, r.sampler.samples)
		} else {
			t.Logf("%-10s %v completions and %v aggregations finished during the run", tn.name, total, aggregations)
		}
	}
	if r.tenants[0].name != "" {
		t.Logf("%d samples of /metrics", r.sampler.samples)
	}
	// Every counter belongs to a tenant that has a ground truth: the
	// unnamed one has no label, the named ones theirs.
	for k, v := range all {
		if !persisted(k) || v == 0 {
			continue
		}
		if !slices.ContainsFunc(r.tenants, func(tn *restartTenant) bool { return tn.owns(k) }) {
			t.Errorf("%s = %v: a series of no tenant with a ground truth", k, v)
		}
	}
	return off
}

// owns reports whether a series key is one of the tenant's: with its
// tenant label, or with no tenant label for the unnamed tenant.
func (tn *restartTenant) owns(key string) bool {
	if tn.name == "" {
		return !strings.Contains(key, `tenant="`)
	}
	return strings.Contains(key, fmt.Sprintf("tenant=%q", tn.name))
}

// totals returns the completions of the first tenant's ground truth and
// those counted.
func (r *restartRun) totals() (truth, counted int) {
	tn := r.tenants[0]
	for _, v := range simtest.Truth(tn.sim).TruthSince(tn.mark).Completed {
		truth += v
	}
	for k, v := range r.sampler.lastSeries() {
		if strings.HasPrefix(k, "sailpoint_account_activities_completed_total") && tn.owns(k) {
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

// modifiedSince counts what the tenant holds from cursor on, through the
// API as the exporter would read it.
func (r *restartRun) modifiedSince(tn *restartTenant, from client.Cursor) int {
	r.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {restartClientID}, "client_secret": {tn.secret}}
	resp, err := http.PostForm(tn.url+"/oauth/token", form)
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
	req, _ := http.NewRequestWithContext(r.ctx, http.MethodGet, tn.url+"/v3/account-activities?"+strings.ReplaceAll(q.Encode(), "+", "%20"), nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	_ = resp.Body.Close()
	n, err := strconv.Atoi(resp.Header.Get("X-Total-Count"))
	if err != nil {
		r.t.Fatalf("%s: count of activities modified since %v: %s %v", tn.label(), from, resp.Status, err)
	}
	return n
}
