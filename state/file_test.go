package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// counters is a section of counters by name, as an area might keep them.
type counters struct {
	mu sync.Mutex
	m  map[string]uint64
}

func (c *counters) EncodeState(e *Encoder) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.N(len(c.m))
	for _, k := range sortedKeys(c.m) {
		e.Str(k)
		e.U64(c.m[k])
		e.Flush()
	}
	return nil
}

func decodeCounters(body []byte) (map[string]uint64, error) {
	d := NewDecoder(body)
	m := map[string]uint64{}
	for range d.N() {
		k := d.Str()
		m[k] = d.U64()
	}
	return m, d.Done()
}

func sortedKeys(m map[string]uint64) []string { return slices.Sorted(maps.Keys(m)) }

var testID = Identity{URL: "https://acme.api.identitynow.com", ClientID: "client-a"}

func open(t *testing.T, path string, id Identity, logs *bytes.Buffer) (*File, *prometheus.Registry) {
	t.Helper()
	var logger *slog.Logger
	if logs != nil {
		logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	reg := prometheus.NewPedanticRegistry()
	f, err := Open(path, id, reg, nil, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f, reg
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("%s not served", name)
	return 0
}

// Every section an area attaches comes back, byte for byte, after a write
// and a new Open; a large one is written in chunks.
func TestSectionsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	big := &counters{m: map[string]uint64{}}
	for i := range 60_000 { // about 1 MB: several chunks
		big.m["key-"+strconv.Itoa(i)] = uint64(i) * 7
	}
	small := &counters{m: map[string]uint64{"a": 1, "b": 1 << 63}}
	f, reg := open(t, path, testID, nil)
	if _, ok := f.Attach("big", big); ok {
		t.Fatal("a new file has no sections")
	}
	f.Attach("small", small)
	if err := f.Write(); err != nil {
		t.Fatal(err)
	}
	if n := testutil.ToFloat64(f.writes.WithLabelValues("success")); n != 1 {
		t.Fatalf("successful writes %v, want 1", n)
	}
	if size, info := gauge(t, reg, "sailpoint_state_size_bytes"), mustStat(t, path); size != float64(info.Size()) || info.Mode().Perm() != 0o600 {
		t.Fatalf("size gauge %v, file %d bytes mode %v; want equal and 0600", size, info.Size(), info.Mode().Perm())
	}
	_ = f.Close()

	again, reg2 := open(t, path, testID, nil)
	for name, want := range map[string]*counters{"big": big, "small": small} {
		body, ok := again.Attach(name, &counters{})
		if !ok {
			t.Fatalf("section %s lost", name)
		}
		got, err := decodeCounters(body)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want.m) {
			t.Fatalf("section %s: %d counters, want %d", name, len(got), len(want.m))
		}
		for k, v := range want.m {
			if got[k] != v {
				t.Fatalf("section %s: %s = %d, want %d", name, k, got[k], v)
			}
		}
	}
	if r := gauge(t, reg2, "sailpoint_state_restored"); r != 1 {
		t.Fatalf("restored %v, want 1", r)
	}
}

func mustStat(t *testing.T, path string) os.FileInfo {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// A section no area attaches this time (its area is off) is written back
// as it was: turning an area off and on again loses nothing.
func TestUnattachedSectionsAreKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	f, _ := open(t, path, testID, nil)
	f.Attach("aggregations", &counters{m: map[string]uint64{"x": 42}})
	f.Attach("activities", &counters{m: map[string]uint64{"y": 1}})
	if err := f.Write(); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()

	g, _ := open(t, path, testID, nil)
	g.Attach("activities", &counters{m: map[string]uint64{"y": 2}})
	if err := g.Write(); err != nil {
		t.Fatal(err)
	}
	_ = g.Close()

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(raw, testID)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]uint64{"aggregations": 42, "activities": 2} {
		got, err := decodeCounters(c.Sections[name])
		if err != nil || len(got) != 1 {
			t.Fatalf("section %s: %v %v", name, got, err)
		}
		for _, v := range got {
			if v != want {
				t.Fatalf("section %s holds %d, want %d", name, v, want)
			}
		}
	}
}

// formatV1File is a file as the exporter wrote it before sections: the
// activities' body alone, the lookback in the header.
func formatV1File(id Identity, lookbackMs int64, body []byte) []byte {
	var rest Encoder
	rest.Str(id.url())
	rest.Str(id.ClientID)
	rest.I64(lookbackMs)
	rest.I64(1_700_000_000_000)
	rest.Raw(body)
	prefix := make([]byte, prefixLen)
	copy(prefix, magic)
	binary.LittleEndian.PutUint32(prefix[8:], formatV1)
	binary.LittleEndian.PutUint64(prefix[12:], uint64(len(rest.b)))
	sum := sha256.Sum256(rest.b)
	copy(prefix[20:], sum[:])
	return append(prefix, rest.b...)
}

// A file of format 1 loads: its body is the activities section, behind
// the lookback its header held. What is written now is format 2.
func TestFormatVersions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	body := []byte("the activities' body, as format 1 wrote it")
	if err := os.WriteFile(path, formatV1File(testID, 86_400_000, body), 0o600); err != nil {
		t.Fatal(err)
	}
	f, _ := open(t, path, testID, nil)
	got, ok := f.Attach(SectionActivities, &counters{m: map[string]uint64{}})
	if !ok {
		t.Fatal("the activities of a format 1 file were not found")
	}
	d := NewDecoder(got)
	if lookback := d.I64(); lookback != 86_400_000 || !bytes.Equal(d.Take(len(body)), body) || d.Done() != nil {
		t.Fatalf("section %q, want the lookback 86400000 and the body", got)
	}
	if err := f.Write(); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	if v := binary.LittleEndian.Uint32(raw[8:]); v != Format || Format != 2 {
		t.Fatalf("wrote format %d, want %d (2)", v, Format)
	}
	c, err := Parse(raw, testID)
	if err != nil || c.Format != 2 || len(c.Names) != 1 || c.Names[0] != SectionActivities {
		t.Fatalf("rewritten file: %+v, %v", c, err)
	}
}

// A state file that cannot be used is set aside with one line that says
// why, and nothing of it is used; the reason's sentinel is errors.Is-able.
func TestBadStateFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "good")
	f, _ := open(t, path, testID, nil)
	f.Attach("activities", &counters{m: map[string]uint64{"a": 1, "b": 2}})
	if err := f.Write(); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	withVersion := func(v uint32) []byte {
		b := append([]byte(nil), good...)
		binary.LittleEndian.PutUint32(b[8:], v)
		return b
	}
	tests := []struct {
		name     string
		content  []byte // nil: no file
		id       Identity
		level    string
		says     string
		sentinel error
	}{
		{"missing", nil, testID, "INFO", `msg="no state file yet: counting starts with a first pass over the lookback"`, nil},
		{"empty", []byte{}, testID, "WARN", `reason="truncated: 0 bytes, shorter than the header"`, ErrCorrupt},
		{"truncated header", good[:30], testID, "WARN", `reason="truncated: 30 bytes, shorter than the header"`, ErrCorrupt},
		{"truncated body", good[:len(good)-7], testID, "WARN", "reason=\"truncated: ", ErrCorrupt},
		{"trailing bytes", append(append([]byte(nil), good...), 0), testID, "WARN", `reason="corrupt: 1 bytes after the end"`, ErrCorrupt},
		{"flipped byte", func() []byte { b := append([]byte(nil), good...); b[len(b)-3] ^= 0x40; return b }(), testID, "WARN", `reason="checksum mismatch: the file is corrupt"`, ErrCorrupt},
		{"another file", []byte("# HELP up\nnot a state file at all, but long enough to have a header\n"), testID, "WARN", `reason="not a state file of this exporter"`, ErrFormat},
		{"unknown version", withVersion(99), testID, "WARN", `reason="format version 99, this exporter reads versions 1 to 2"`, ErrFormat},
		{"another tenant", good, Identity{URL: "https://other.api.identitynow.com", ClientID: "client-a"}, "WARN",
			`reason="written for another tenant (https://acme.api.identitynow.com), not https://other.api.identitynow.com"`, ErrOwner},
		{"another client id", good, Identity{URL: testID.URL, ClientID: "client-b"}, "WARN",
			`reason="written for another client id (client-a), not client-b"`, ErrOwner},
		{"corrupt sections, valid checksum", resealed(good, func(b []byte) []byte { return b[:len(b)-3] }), testID, "WARN", `reason="corrupt state: `, ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "state")
			if tt.content != nil {
				if err := os.WriteFile(path, tt.content, 0o600); err != nil {
					t.Fatal(err)
				}
				_, err := Parse(tt.content, tt.id)
				var bad *BadFileError
				if !errors.Is(err, tt.sentinel) || !errors.As(err, &bad) || !strings.Contains(tt.says, bad.Reason[:min(len(bad.Reason), 10)]) {
					t.Fatalf("Parse: %v, want a *BadFileError matching %v", err, tt.sentinel)
				}
			}
			var logs bytes.Buffer
			f, reg := open(t, path, tt.id, &logs)
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], "level="+tt.level) || !strings.Contains(lines[0], tt.says) || !strings.Contains(lines[0], "file="+path) {
				t.Fatalf("logged %q, want one %s line with file=%s and %s", logs.String(), tt.level, path, tt.says)
			}
			if _, ok := f.Attach("activities", &counters{}); ok || gauge(t, reg, "sailpoint_state_restored") != 0 {
				t.Fatal("a file that cannot be used gave its sections back")
			}
			kept, _ := filepath.Glob(path + ".corrupt-*")
			if tt.content == nil {
				if len(kept) != 0 {
					t.Fatalf("kept %v of a file that did not exist", kept)
				}
				return
			}
			if len(kept) != 1 || !strings.Contains(lines[0], "kept_as="+kept[0]) {
				t.Fatalf("bad file kept as %v; the line says %s", kept, lines[0])
			}
			if b, _ := os.ReadFile(kept[0]); !bytes.Equal(b, tt.content) {
				t.Fatal("the file kept aside is not the bad file")
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Fatalf("the bad file is still in place: %v", err)
			}
		})
	}
}

// resealed returns raw with its body replaced by f(body) and the length and
// checksum made right again: a file that is intact but says something wrong.
func resealed(raw []byte, f func([]byte) []byte) []byte {
	out := append([]byte(nil), raw[:prefixLen]...)
	rest := f(append([]byte(nil), raw[prefixLen:]...))
	binary.LittleEndian.PutUint64(out[12:], uint64(len(rest)))
	sum := sha256.Sum256(rest)
	copy(out[20:], sum[:])
	return append(out, rest...)
}

// An area that cannot use its section rejects it: one warning line that
// names the section and the reason, a copy kept aside, the other sections
// used as they are.
func TestRejectedSection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	f, _ := open(t, path, testID, nil)
	f.Attach("activities", &counters{m: map[string]uint64{"a": 1}})
	f.Attach("aggregations", &counters{m: map[string]uint64{"b": 2}})
	if err := f.Write(); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()

	var logs bytes.Buffer
	g, reg := open(t, path, testID, &logs)
	if _, ok := g.Attach("activities", &counters{}); !ok {
		t.Fatal("activities missing")
	}
	g.Reject("activities", &BadFileError{Reason: "written with --activities.lookback=24h0m0s, this run uses 48h0m0s", Err: ErrSettings})
	body, ok := g.Attach("aggregations", &counters{})
	if got, err := decodeCounters(body); !ok || err != nil || got["b"] != 2 {
		t.Fatalf("the other section: %v %v %v", ok, got, err)
	}
	line := strings.TrimSpace(logs.String())
	kept, _ := filepath.Glob(path + ".corrupt-*")
	if strings.Count(line, "\n") != 0 || !strings.Contains(line, "level=WARN") || !strings.Contains(line, "section=activities") ||
		!strings.Contains(line, `reason="written with --activities.lookback=24h0m0s, this run uses 48h0m0s"`) || len(kept) != 1 || !strings.Contains(line, "kept_as="+kept[0]) {
		t.Fatalf("logged %q (kept %v)", logs.String(), kept)
	}
	if gauge(t, reg, "sailpoint_state_restored") != 0 {
		t.Fatal("restored 1 although a section was discarded")
	}
}

// A second process on the same state file is refused at once, with the
// file and the holder named; the first one's writes go on unaffected, and
// its temporary file is never touched by the second's start.
func TestOneWriterPerStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	first, _ := open(t, path, testID, nil)
	first.Attach("activities", &counters{m: map[string]uint64{"a": 1}})
	// A temporary file of the first writer, as if a write were in progress.
	if err := os.WriteFile(first.tmp, []byte("in progress"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path, testID, prometheus.NewRegistry(), nil, nil)
	var locked *LockedError
	if !errors.As(err, &locked) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) ||
		!strings.Contains(err.Error(), "run one exporter per state file") {
		t.Fatalf("second Open: %v, want a LockedError naming %s and the holder's pid", err, path)
	}
	if b, err := os.ReadFile(first.tmp); err != nil || string(b) != "in progress" {
		t.Fatalf("the second start touched the writer's temporary file: %q %v", b, err)
	}
	if err := first.Write(); err != nil {
		t.Fatalf("the first writer after a refused second: %v", err)
	}
	_ = first.Close()
	second, _ := open(t, path, testID, nil)
	if _, ok := second.Attach("activities", &counters{}); !ok {
		t.Fatal("once the first is gone, the second resumes from its file")
	}
}

// A write that fails is said once at error level, its repeats at debug,
// its end at info; the failure counter moves and no temporary file stays.
func TestWriteFailuresAreSaidOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	var logs bytes.Buffer
	f, _ := open(t, path, testID, &logs)
	f.Attach("activities", &counters{m: map[string]uint64{"a": 1}})
	// A directory where the file should be: the rename over it fails.
	if err := os.MkdirAll(filepath.Join(path, "blocker"), 0o700); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	for range 3 {
		if err := f.Write(); err == nil {
			t.Fatal("a write over a directory succeeded")
		}
	}
	if _, err := os.Stat(f.tmp); !os.IsNotExist(err) {
		t.Fatalf("a failed write left its temporary file: %v", err)
	}
	if err := os.RemoveAll(path); err != nil {
		t.Fatal(err)
	}
	if err := f.Write(); err != nil {
		t.Fatal(err)
	}
	text := logs.String()
	if strings.Count(text, "level=ERROR") != 1 || strings.Count(text, "level=DEBUG") != 2 || !strings.Contains(text, "the state file is written again") ||
		!strings.Contains(text, "failed_writes=3") {
		t.Fatalf("logs:\n%s", text)
	}
	if n := testutil.ToFloat64(f.writes.WithLabelValues("failure")); n != 3 {
		t.Fatalf("failed writes %v, want 3", n)
	}
}

// A directory that cannot be written refuses the state file at once.
func TestStateDirectoryMustBeWritable(t *testing.T) {
	for _, path := range []string{
		filepath.Join(t.TempDir(), "missing", "state"),
		"/proc/sailpoint-state", // not writable even by root
	} {
		_, err := Open(path, Identity{}, prometheus.NewRegistry(), nil, nil)
		if err == nil || !strings.Contains(err.Error(), "the state file's directory "+filepath.Dir(path)+" cannot be written") {
			t.Errorf("%s: err = %v", path, err)
		}
	}
}
