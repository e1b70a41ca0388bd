package apispec_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/sailpoint-exporter/sailpoint_exporter/internal/apispec"
)

// stopper records how a test would have stopped.
type stopper struct {
	testing.TB
	skipped, failed string
}

func (s *stopper) Helper() {}
func (s *stopper) Skipf(format string, args ...any) {
	s.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (s *stopper) Fatalf(format string, args ...any) {
	s.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls Load as a test would, in a goroutine of its own so that Skip
// and Fatal can stop it.
func run(t *testing.T) *stopper {
	s := &stopper{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		apispec.Load(s)
	}()
	<-done
	return s
}

func TestMissingSpecDir(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nothing-here")
	t.Setenv(apispec.EnvDir, missing)

	t.Setenv("CI", "")
	s := run(t)
	if s.failed != "" || !strings.Contains(s.skipped, missing) || strings.Contains(s.skipped, "\n") {
		t.Errorf("without CI: skipped %q, failed %q; want one line of skip naming %s", s.skipped, s.failed, missing)
	}

	t.Setenv("CI", "true")
	s = run(t)
	if s.skipped != "" || !strings.Contains(s.failed, missing) || !strings.Contains(s.failed, apispec.EnvDir) {
		t.Errorf("with CI=true: skipped %q, failed %q; want a failure naming %s and %s", s.skipped, s.failed, missing, apispec.EnvDir)
	}
}

func TestBrokenSpecDir(t *testing.T) {
	// A directory that is there but holds no documents fails, CI or not.
	t.Setenv(apispec.EnvDir, t.TempDir())
	t.Setenv("CI", "")
	if s := run(t); s.failed == "" || !strings.Contains(s.failed, "deref-sailpoint-api.v3.yaml") {
		t.Errorf("failed %q, skipped %q", s.failed, s.skipped)
	}
}

// TestDefaultDir: ../shared/spec from the repository's root.
func TestDefaultDir(t *testing.T) {
	t.Setenv(apispec.EnvDir, "")
	dir, err := apispec.Dir()
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	root := filepath.Dir(filepath.Dir(wd)) // internal/apispec → the root
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(filepath.Dir(root), "shared", "spec"); dir != want {
		t.Errorf("Dir() = %s, want %s", dir, want)
	}
}
