package simtenant

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/fakeclock"
	"github.com/sailpoint-exporter/sailpoint_exporter/internal/race"
)

var (
	hex32   = regexp.MustCompile(`^[0-9a-f]{32}$`)
	msStamp = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)
)

// specEnums are the values the spec lists; with edge cases off the
// simulator must stay inside them.
var specEnums = map[string][]string{
	"executionStatus":    {"EXECUTING", "VERIFYING", "TERMINATED", "COMPLETED"},
	"completionStatus":   {"SUCCESS", "FAILURE", "INCOMPLETE", "PENDING"},
	"provisioningStatus": {"PENDING", "FINISHED", "UNVERIFIABLE", "COMMITED", "FAILED", "RETRY"},
	"operation":          {"ADD", "CREATE", "MODIFY", "DELETE", "DISABLE", "ENABLE", "UNLOCK", "LOCK", "REMOVE", "SET"},
	"approvalStatus":     {"FINISHED", "REJECTED", "RETURNED", "EXPIRED", "PENDING", "CANCELED"},
	"type": {"CloudAutomated", "IdentityAttributeUpdate", "appRequest", "LifecycleStateChange", "AccountStateUpdate",
		"AccountAttributeUpdate", "CloudPasswordRequest", "Attribute Synchronization Refresh", "Certification",
		"Identity Refresh", "Lifecycle Change Refresh"},
}

// runSim seeds history and then steps with a fake clock.
func runSim(seed int64, edge EdgeCases, steps int) (*Tenant, *fakeclock.Clock) {
	clk := newFakeClock()
	tn := New(Config{Seed: seed, Now: clk.Now, EdgeCases: edge})
	tn.SeedHistory(2000, 72*time.Hour)
	for range steps {
		clk.Advance(3 * time.Second)
		tn.Step()
	}
	return tn, clk
}

// snapshot is every activity's newest version, visible or not, by created
// then id.
func snapshot(tn *Tenant) []Activity {
	tn.mu.Lock()
	out := make([]Activity, 0, len(tn.byID))
	for _, rec := range tn.byID {
		out = append(out, rec.a.Clone())
	}
	tn.mu.Unlock()
	slices.SortFunc(out, func(x, y Activity) int {
		if c := x.Created.Compare(y.Created); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	return out
}

func stored(tn *Tenant) int {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	return len(tn.byID)
}

func TestDeterministicWithSeed(t *testing.T) {
	race.SkipVolume(t)
	a, _ := runSim(42, EdgeCases{}, 100)
	b, _ := runSim(42, EdgeCases{}, 100)
	ja, _ := json.Marshal(snapshot(a))
	jb, _ := json.Marshal(snapshot(b))
	if !bytes.Equal(ja, jb) {
		t.Fatal("equal seeds gave different data")
	}
	c, _ := runSim(43, EdgeCases{}, 100)
	jc, _ := json.Marshal(snapshot(c))
	if bytes.Equal(ja, jc) {
		t.Fatal("different seeds gave equal data")
	}
}

func TestSimulatedDataFollowsSpec(t *testing.T) {
	tn, _ := runSim(9, EdgeCases{Off: true}, 300)
	acts := snapshot(tn)
	if len(acts) < 2300 {
		t.Fatalf("only %d activities", len(acts))
	}
	var size, terminal, lateEdits, terminatedNoCompleted, verifying int
	types := map[string]int{}
	for _, a := range acts {
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		size += len(b)
		var raw map[string]any
		_ = json.Unmarshal(b, &raw)
		for _, k := range []string{"id", "name", "created", "modified", "completed", "completionStatus", "type", "requesterIdentitySummary", "targetIdentitySummary", "errors", "warnings", "items", "executionStatus", "clientMetadata"} {
			if _, ok := raw[k]; !ok {
				t.Fatalf("key %s missing in %s", k, b)
			}
		}
		if _, ok := raw["cancelable"]; ok {
			t.Fatalf("v3 shape has cancelable")
		}
		if !hex32.MatchString(a.ID) {
			t.Errorf("id %q", a.ID)
		}
		for _, k := range []string{"created", "modified", "completed"} {
			if s, ok := raw[k].(string); ok && !msStamp.MatchString(s) {
				t.Errorf("%s %q is not ms UTC", k, s)
			}
		}
		if a.Type == nil || !slices.Contains(specEnums["type"], *a.Type) {
			t.Fatalf("type %v", a.Type)
		}
		types[*a.Type]++
		if !slices.Contains(specEnums["executionStatus"], a.ExecutionStatus) {
			t.Errorf("executionStatus %q", a.ExecutionStatus)
		}
		if a.CompletionStatus != nil && !slices.Contains(specEnums["completionStatus"], *a.CompletionStatus) {
			t.Errorf("completionStatus %q", *a.CompletionStatus)
		}
		if a.Errors == nil || a.Warnings == nil || len(a.Items) == 0 {
			t.Errorf("edge case with edge cases off: %s", b)
		}
		if a.Modified == nil || a.Modified.Before(a.Created) {
			t.Errorf("modified %v before created %v", a.Modified, a.Created)
		}
		if a.ExecutionStatus == ExecVerifying {
			verifying++
		}
		for _, it := range a.Items {
			if !slices.Contains(specEnums["provisioningStatus"], it.ProvisioningStatus) {
				t.Errorf("provisioningStatus %q", it.ProvisioningStatus)
			}
			if it.Operation == nil || !slices.Contains(specEnums["operation"], *it.Operation) {
				t.Errorf("operation %v", it.Operation)
			}
			if it.ApprovalStatus != nil && !slices.Contains(specEnums["approvalStatus"], *it.ApprovalStatus) {
				t.Errorf("approvalStatus %q", *it.ApprovalStatus)
			}
			if !hex32.MatchString(it.SourceID) || !hex32.MatchString(it.ID) {
				t.Errorf("item ids %q %q", it.ID, it.SourceID)
			}
		}
		if !a.IsTerminal() {
			if a.Completed != nil {
				t.Errorf("running activity has completed")
			}
			continue
		}
		terminal++
		if a.Completed != nil && a.Completed.Before(a.Created) {
			t.Errorf("completed before created")
		}
		if a.Completed != nil && a.Modified.After(*a.Completed) {
			lateEdits++
		}
		if a.ExecutionStatus == ExecTerminated && a.Completed == nil {
			terminatedNoCompleted++
		}
		if a.ExecutionStatus != ExecCompleted {
			continue
		}
		switch *a.CompletionStatus {
		case CompletionSuccess:
			for _, it := range a.Items {
				if it.ProvisioningStatus != ProvFinished && it.ProvisioningStatus != ProvUnverifiable {
					t.Errorf("SUCCESS with item %s", it.ProvisioningStatus)
				}
			}
		case CompletionFailure:
			if len(a.Errors) == 0 {
				t.Errorf("FAILURE without errors")
			}
		}
	}
	avg := size / len(acts)
	t.Logf("%d activities, %d terminal, avg %d bytes, %d late edits, %d TERMINATED without completed, %d verifying", len(acts), terminal, avg, lateEdits, terminatedNoCompleted, verifying)
	if avg < 1500 || avg > 5000 {
		t.Errorf("average JSON size %d bytes, want roughly 2-4 KB", avg)
	}
	if terminal < len(acts)*8/10 {
		t.Errorf("only %d of %d terminal", terminal, len(acts))
	}
	if lateEdits == 0 || terminatedNoCompleted == 0 {
		t.Errorf("missing late edits (%d) or TERMINATED without completed (%d)", lateEdits, terminatedNoCompleted)
	}
	if types["Identity Refresh"] < types["appRequest"] || types["appRequest"] < types["Certification"] {
		t.Errorf("type mix %v", types)
	}
}

func TestEdgeCases(t *testing.T) {
	edge := EdgeCases{NullType: 0.2, NullCompletionStatus: 0.2, NullItems: 0.1, EmptyItems: 0.1, NullErrors: 0.2, NullOperation: 0.2, UnknownEnums: 0.2}
	tn, _ := runSim(5, edge, 50)
	seen := map[string]bool{}
	for _, a := range snapshot(tn) {
		b, _ := json.Marshal(a)
		for _, frag := range []string{`"type":null`, `"items":null`, `"items":[]`, `"errors":null`, `"warnings":null`, `"operation":null`, `"provisioningStatus":"QUEUED"`, `"operation":"RESET"`, `"completionStatus":"CANCELLED"`} {
			if bytes.Contains(b, []byte(frag)) {
				seen[frag] = true
			}
		}
		if a.IsTerminal() && a.ExecutionStatus == ExecCompleted && a.CompletionStatus == nil {
			seen["completed with null completionStatus"] = true
		}
	}
	for _, want := range []string{`"type":null`, `"items":null`, `"items":[]`, `"errors":null`, `"warnings":null`, `"operation":null`, `"provisioningStatus":"QUEUED"`, `"operation":"RESET"`, `"completionStatus":"CANCELLED"`, "completed with null completionStatus"} {
		if !seen[want] {
			t.Errorf("edge case %s never produced", want)
		}
	}
	// A single switch can be turned off on its own.
	edge.NullType = -1
	tn, _ = runSim(5, edge, 10)
	for _, a := range snapshot(tn) {
		if a.Type == nil {
			t.Fatal("null type with NullType disabled")
		}
	}
}

// TestRunDemo runs the real ticker: RunDemo is the one place that owns
// wall-clock time.
func TestRunDemo(t *testing.T) {
	tn := New(Config{Seed: 1})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { tn.RunDemo(ctx, time.Millisecond); close(done) }()
	deadline := time.After(5 * time.Second)
	for stored(tn) == 0 {
		select {
		case <-deadline:
			t.Fatal("RunDemo created nothing in 5s")
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunDemo did not return after cancel")
	}
	tn.mu.Lock()
	defer tn.mu.Unlock()
	if !tn.taskDemo || tn.taskEvery != demoTaskEvery || len(tn.tasks) < 14*55 {
		t.Errorf("RunDemo left aggregations at %v (demo %v) with %d tasks", tn.taskEvery, tn.taskDemo, len(tn.tasks))
	}
}
