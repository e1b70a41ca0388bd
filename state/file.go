// Package state keeps what the exporter's counters need to survive a
// restart in one file, the way log shippers keep their positions file. Each
// area of the exporter that counts (the account activities, the
// aggregations) contributes one section; the file writes them all,
// atomically, whenever one of them asks, and gives each its section back at
// start.
//
// The order is the design: an area writes what its rule needs, then
// publishes what was written. A value served is never ahead of the file, so
// a kill at any moment cannot make a counter go down after the restart.
package state

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sailpoint-exporter/sailpoint_exporter/outage"
)

// Section is an area's part of the state file. EncodeState may be called
// from any goroutine, whenever any area writes the file: it must encode a
// consistent state, guarded against its own area's refresh.
type Section interface {
	EncodeState(e *Encoder) error
}

// LockedError says that another process holds the state file.
type LockedError struct {
	Path   string
	Holder string // what the holder wrote into the lock file: its pid, host and start
}

func (e *LockedError) Error() string {
	s := "the state file is in use by another exporter process (lock " + e.Path + " is held"
	if e.Holder != "" {
		s += " by " + e.Holder
	}
	return s + "): run one exporter per state file"
}

// File is the state file of one tenant. Writes are atomic: a temporary file
// in the same directory is written, synced and renamed over the old one, and
// the directory is synced, so a kill at any byte leaves the old file or the
// new one. A lock file beside it keeps a second process away.
type File struct {
	path, tmp string
	id        Identity
	logger    *slog.Logger
	lock      *os.File

	mu       sync.Mutex // one write at a time; guards what follows
	sections []attached
	kept     map[string][]byte // sections found at open that no area attached: written back as they were
	names    []string          // their order in the file
	failing  outage.Streak

	writes       *prometheus.CounterVec
	lastWrite    prometheus.Gauge
	lastDuration prometheus.Gauge
	size         prometheus.Gauge
	restored     prometheus.Gauge
}

type attached struct {
	name    string
	section Section
}

// Open locks path (through path.lock) for the life of the process, checks
// that its directory can be written, and reads what the file holds,
// registering the state metrics with reg, each carrying constLabels (the
// tenant's name). It fails if another process holds
// the lock or the directory cannot be written: running without the
// persistence the user asked for would lose counts silently. A file that
// cannot be used is set aside as <name>.corrupt-<unix time> with one
// warning line, and every area starts afresh.
func Open(path string, id Identity, reg prometheus.Registerer, constLabels prometheus.Labels, logger *slog.Logger) (*File, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	dir := filepath.Dir(path)
	lock, err := lockFile(path + ".lock")
	if err != nil {
		var locked *LockedError
		if errors.As(err, &locked) {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return nil, fmt.Errorf("the state file's directory %s cannot be written: %w", dir, err)
	}
	f := &File{path: path, tmp: path + ".tmp", id: id, logger: logger, lock: lock, kept: map[string][]byte{}}
	// Writable? A name of our own, never the running writer's files (the
	// lock says there is none, but the check need not rely on it).
	probe := path + ".probe-" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(probe, nil, 0o600); err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("the state file's directory %s cannot be written: %w", dir, err)
	}
	if err := os.Remove(probe); err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("the state file's directory %s cannot be written: %w", dir, err)
	}
	// A temporary file left by a process killed while writing: with the
	// lock held, it is ours to remove.
	_ = os.Remove(f.tmp)
	f.registerMetrics(reg, constLabels)
	if err := f.read(); err != nil {
		_ = lock.Close()
		return nil, err
	}
	return f, nil
}

func (f *File) registerMetrics(reg prometheus.Registerer, constLabels prometheus.Labels) {
	f.writes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "sailpoint", Name: "state_writes_total",
		Help:        "Writes of the state file by this process, by result (success or failure).",
		ConstLabels: constLabels,
	}, []string{"result"})
	f.writes.WithLabelValues("success")
	f.writes.WithLabelValues("failure")
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "sailpoint", Name: name, Help: help, ConstLabels: constLabels})
	}
	f.lastWrite = gauge("state_last_write_timestamp_seconds", "Unix time of the last successful write of the state file.")
	f.lastDuration = gauge("state_last_write_duration_seconds", "How long the last successful write of the state file took, sync and rename included.")
	f.size = gauge("state_size_bytes", "Size of the state file as last written.")
	f.restored = gauge("state_restored", "1 if this process resumed from the state file, 0 if it started counting afresh (no file, or one it could not use).")
	reg.MustRegister(f.writes, f.lastWrite, f.lastDuration, f.size, f.restored)
}

// read loads the file's sections; a missing file or one that cannot be
// used leaves none. It fails only when the file exists but cannot be read.
func (f *File) read() error {
	raw, err := os.ReadFile(f.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		f.logger.Info("no state file yet: counting starts with a first pass over the lookback", "file", f.path)
		return nil
	case err != nil:
		return fmt.Errorf("reading the state file: %w", err)
	}
	c, err := Parse(raw, f.id)
	if err != nil {
		args := append([]any{"file", f.path, "reason", err.Error()}, f.setAside(true)...)
		f.logger.Warn("discarding the state file: counting starts afresh with a first pass over the lookback", args...)
		return nil
	}
	f.kept, f.names = c.Sections, c.Names
	f.restored.Set(1)
	return nil
}

// setAside keeps the file as <name>.corrupt-<unix time> for a look later,
// moving it (the whole file is unusable) or copying it (a section is); it
// returns the log attributes that say where.
func (f *File) setAside(move bool) []any {
	kept := fmt.Sprintf("%s.corrupt-%d", f.path, time.Now().Unix())
	var err error
	if move {
		err = os.Rename(f.path, kept)
	} else {
		err = copyFile(f.path, kept)
	}
	if err != nil {
		return []any{"not_kept", err.Error()}
	}
	return []any{"kept_as", kept}
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

// Attach makes s the contributor of the section name, written with every
// write from now on, and returns what the file held for it (ok false when
// nothing: a new file, or one without that section).
func (f *File) Attach(name string, s Section) (body []byte, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, ok = f.kept[name]
	delete(f.kept, name)
	f.sections = append(f.sections, attached{name: name, section: s})
	return body, ok
}

// Reject says that the area of section name could not use what the file
// held for it (err says why, wrapping ErrCorrupt or ErrSettings): one
// warning line, a copy of the file kept aside, and the area starts afresh;
// the other sections are used as they are.
func (f *File) Reject(name string, err error) {
	f.restored.Set(0)
	args := append([]any{"file", f.path, "section", name, "reason", err.Error()}, f.setAside(false)...)
	f.logger.Warn("discarding the state file's "+name+" section: counting starts afresh with a first pass over the lookback", args...)
}

// Path is the state file's path.
func (f *File) Path() string { return f.path }

// Close releases the lock. Nothing is written.
func (f *File) Close() error { return f.lock.Close() }

// Write writes every section, as each area's EncodeState says it now. Until
// it returns, the caller must not serve the values it wrote: a kill before
// the rename would take them back. The first failure of a streak is logged
// at error level, its end at info. A nil File, no state file, writes
// nothing.
func (f *File) Write() error {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	start := time.Now()
	n, err := f.writeFile()
	if err != nil {
		f.writes.WithLabelValues("failure").Inc()
		if f.failing.Fail(start, "write") {
			f.logger.Error("cannot write the state file: the metrics stay at their last persisted values until it works again", "file", f.path, "err", err)
		} else {
			f.logger.Debug("cannot write the state file, again", "file", f.path, "err", err, "failures", f.failing.Count())
		}
		return err
	}
	if failures, lasted := f.failing.Recover(time.Now()); failures > 0 {
		f.logger.Info("the state file is written again", "file", f.path, "failed_writes", failures, "failing_for", lasted.Round(time.Second))
	}
	f.writes.WithLabelValues("success").Inc()
	f.lastWrite.Set(float64(time.Now().UnixMilli()) / 1000)
	f.lastDuration.Set(time.Since(start).Seconds())
	f.size.Set(float64(n))
	return nil
}

func (f *File) writeFile() (size int64, err error) {
	file, err := os.OpenFile(f.tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			_ = file.Close()
			_ = os.Remove(f.tmp)
		}
	}()
	if err := file.Chmod(0o600); err != nil {
		return 0, err
	}
	prefix := make([]byte, prefixLen)
	copy(prefix, magic)
	binary.LittleEndian.PutUint32(prefix[8:], Format)
	out := bufio.NewWriterSize(file, 1<<20)
	if _, err := out.Write(prefix); err != nil {
		return 0, err
	}
	sum := sha256.New()
	var length int64
	put := func(b []byte) error {
		length += int64(len(b))
		sum.Write(b)
		_, err := out.Write(b)
		return err
	}
	var head Encoder
	head.Str(f.id.url())
	head.Str(f.id.ClientID)
	head.I64(time.Now().UnixMilli())
	if err := put(head.b); err != nil {
		return 0, err
	}
	section := func(name string, encode func(*Encoder) error) error {
		var h Encoder
		h.Str(name)
		if err := put(h.b); err != nil {
			return err
		}
		// Each flush of the section's encoder is one chunk: its length,
		// then its bytes.
		e := NewEncoder(func(b []byte) error {
			var n Encoder
			n.N(len(b))
			if err := put(n.b); err != nil {
				return err
			}
			return put(b)
		})
		if err := encode(e); err != nil {
			return fmt.Errorf("encoding the %s section: %w", name, err)
		}
		if err := e.Close(); err != nil {
			return err
		}
		return put([]byte{0})
	}
	for _, s := range f.sections {
		if err := section(s.name, s.section.EncodeState); err != nil {
			return 0, err
		}
	}
	for _, name := range f.names {
		if body, ok := f.kept[name]; ok {
			if err := section(name, func(e *Encoder) error { e.Raw(body); return nil }); err != nil {
				return 0, err
			}
		}
	}
	if err := put([]byte{0}); err != nil { // the empty name that ends the sections
		return 0, err
	}
	if err := out.Flush(); err != nil {
		return 0, err
	}
	binary.LittleEndian.PutUint64(prefix[12:], uint64(length))
	copy(prefix[20:], sum.Sum(nil))
	if _, err := file.WriteAt(prefix[12:], 12); err != nil {
		return 0, err
	}
	if err := file.Sync(); err != nil {
		return 0, err
	}
	if err := file.Close(); err != nil {
		return 0, err
	}
	if err := os.Rename(f.tmp, f.path); err != nil {
		return 0, err
	}
	return prefixLen + length, syncDir(filepath.Dir(f.path))
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer func() { _ = d.Close() }()
	return d.Sync()
}
