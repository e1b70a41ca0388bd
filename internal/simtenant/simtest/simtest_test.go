package simtest

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/simtenant"
)

const (
	module      = "github.com/sailpoint-exporter/sailpoint_exporter"
	simtenantIP = module + "/internal/simtenant"
	simtestIP   = simtenantIP + "/simtest"
)

// TestNotInTheProduct is the point of this package: the exporter's import
// graph (its main package, which --demo puts simtenant into) holds the
// tenant but not the fault injection and the truth.
func TestNotInTheProduct(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go tool")
	}
	goTool, err := exec.LookPath("go") // go test puts its GOROOT/bin first in PATH
	if err != nil {
		t.Skipf("no go tool: %v", err)
	}
	cmd := exec.CommandContext(t.Context(), goTool, "list", "-deps", "-f", "{{.ImportPath}}", module)
	cmd.Dir = filepath.Join("..", "..", "..")
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, simtenantIP) {
		t.Fatalf("the product does not import %s: this test proves nothing", simtenantIP)
	}
	for _, d := range deps {
		if strings.HasPrefix(d, simtestIP) {
			t.Errorf("the product imports %s", d)
		}
	}
}

func TestAttach(t *testing.T) {
	tn := New(simtenant.Config{Seed: 1})
	if f, r := Faults(tn), Truth(tn); f != Faults(tn) || r != Truth(tn) {
		t.Errorf("a second call attached another injector or recorder")
	}
	if tn.Interceptor(nil) != simtenant.Interceptor(Faults(tn)) || tn.Observer() != simtenant.Observer(Truth(tn)) {
		t.Errorf("not attached to the tenant")
	}
	// Faults attach to any tenant, such as the one --demo builds.
	plain := simtenant.New(simtenant.Config{Seed: 1})
	if plain.Interceptor(nil) != nil {
		t.Fatal("simtenant.New attached an interceptor")
	}
	f := Faults(plain)
	if plain.Interceptor(nil) != simtenant.Interceptor(f) {
		t.Errorf("Faults did not attach")
	}
	mustPanic(t, "Truth of a tenant simtenant.New built", "simtest.New", func() { Truth(plain) })
	other := New(simtenant.Config{})
	mustPanic(t, "New with an Observer", "Observer", func() { New(simtenant.Config{Observer: Truth(other)}) })
	foreign := simtenant.New(simtenant.Config{})
	foreign.Interceptor(func() simtenant.Interceptor { return &Injector{} })
	if Faults(foreign) == nil {
		t.Errorf("an injector of this package is this package's")
	}

	// The truth sees what happened before the first Mark: it was there
	// from the tenant's first datum.
	tn.SeedHistory(50, time.Hour)
	if n := len(Truth(tn).TruthSince(Mark{}).Completed); n == 0 {
		t.Errorf("the truth missed the seeded history")
	}
}

func mustPanic(t *testing.T, what, mention string, f func()) {
	t.Helper()
	defer func() {
		r := recover()
		if s, _ := r.(string); !strings.Contains(s, mention) {
			t.Errorf("%s: panic %v, want one that mentions %q", what, r, mention)
		}
	}()
	f()
}
