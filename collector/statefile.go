package collector

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The state file's layout: a fixed prefix, then what it belongs to, then the
// body (state.go). The checksum covers everything after the prefix, so a
// torn or edited file is never loaded.
//
//	magic    [8]  "SPXSTATE"
//	format   u32  stateFormat
//	length   u64  bytes after the prefix
//	sha256   [32] of the bytes after the prefix
//	url, client id (strings), lookback (i64 ms), written at (i64 ms)
//	body
const (
	stateMagic     = "SPXSTATE"
	statePrefixLen = 8 + 4 + 8 + sha256.Size
)

// StateIdentity is what a state file belongs to. A file written for another
// tenant, client id or lookback is not loaded: its counts would not be ours.
type StateIdentity struct {
	URL      string
	ClientID string
	Lookback time.Duration
}

// StateFile persists the counting rule's state so that a restart neither
// loses nor repeats a count. Writes are atomic: a temporary file in the same
// directory is written, synced and renamed over the old one, and the
// directory is synced, so a kill at any byte leaves the old file or the new
// one.
type StateFile struct {
	path, tmp string
	id        StateIdentity
	logger    *slog.Logger

	failing bool // the last write failed; the next success says it works again

	writes       *prometheus.CounterVec
	lastWrite    prometheus.Gauge
	lastDuration prometheus.Gauge
	size         prometheus.Gauge
	restored     prometheus.Gauge
}

// OpenStateFile prepares path for use, registering the state metrics with
// reg. It fails if the directory cannot be written: running without the
// persistence the user asked for would lose counts silently.
func OpenStateFile(path string, id StateIdentity, reg prometheus.Registerer, logger *slog.Logger) (*StateFile, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f := &StateFile{path: path, tmp: path + ".tmp", id: id, logger: logger}
	// A temporary file left by a process killed while writing is ours to
	// remove; creating it again proves that the directory is writable.
	probe, err := os.OpenFile(f.tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("the state file's directory %s cannot be written: %w", filepath.Dir(path), err)
	}
	_ = probe.Close()
	if err := os.Remove(f.tmp); err != nil {
		return nil, fmt.Errorf("the state file's directory %s cannot be written: %w", filepath.Dir(path), err)
	}

	f.writes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "state_writes_total",
		Help: "Writes of the state file by this process, by result (success or failure).",
	}, []string{"result"})
	f.writes.WithLabelValues("success")
	f.writes.WithLabelValues("failure")
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help})
	}
	f.lastWrite = gauge("state_last_write_timestamp_seconds", "Unix time of the last successful write of the state file.")
	f.lastDuration = gauge("state_last_write_duration_seconds", "How long the last successful write of the state file took, sync and rename included.")
	f.size = gauge("state_size_bytes", "Size of the state file as last written.")
	f.restored = gauge("state_restored", "1 if this process resumed from the state file, 0 if it started counting afresh (no file, or one it could not use).")
	reg.MustRegister(f.writes, f.lastWrite, f.lastDuration, f.size, f.restored)
	return f, nil
}

// write persists t and p. Until it returns, the values in them must not be
// served: a kill before the rename would take them back.
func (f *StateFile) write(t *tracker, p resumable) error {
	start := time.Now()
	n, err := f.writeFile(t, p)
	if err != nil {
		f.writes.WithLabelValues("failure").Inc()
		if !f.failing {
			f.failing = true
			f.logger.Error("cannot write the state file: the metrics stay at their last persisted values until it works again", "file", f.path, "err", err)
		} else {
			f.logger.Debug("cannot write the state file, again", "file", f.path, "err", err)
		}
		return err
	}
	if f.failing {
		f.failing = false
		f.logger.Info("the state file is written again", "file", f.path)
	}
	f.writes.WithLabelValues("success").Inc()
	f.lastWrite.Set(float64(time.Now().UnixMilli()) / 1000)
	f.lastDuration.Set(time.Since(start).Seconds())
	f.size.Set(float64(n))
	return nil
}

func (f *StateFile) writeFile(t *tracker, p resumable) (size int64, err error) {
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
	prefix := make([]byte, statePrefixLen)
	copy(prefix, stateMagic)
	binary.LittleEndian.PutUint32(prefix[8:], stateFormat)
	out := bufio.NewWriterSize(file, 1<<20)
	if _, err := out.Write(prefix); err != nil {
		return 0, err
	}
	sum := sha256.New()
	var length int64
	flush := func(b []byte) error {
		length += int64(len(b))
		sum.Write(b)
		_, err := out.Write(b)
		return err
	}
	var head stateWriter
	head.str(strings.TrimRight(f.id.URL, "/"))
	head.str(f.id.ClientID)
	head.i64(f.id.Lookback.Milliseconds())
	head.i64(time.Now().UnixMilli())
	if err := flush(head.b); err != nil {
		return 0, err
	}
	if err := encodeState(t, p, flush); err != nil {
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
	return statePrefixLen + length, syncDir(filepath.Dir(f.path))
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

// badStateError says why a state file cannot be used.
type badStateError struct{ reason string }

func (e *badStateError) Error() string { return e.reason }

func badState(format string, args ...any) error {
	return &badStateError{reason: fmt.Sprintf(format, args...)}
}

// load reads the state file into a tracker configured like t. ok is false
// when counting must start afresh: there is no file (said in one info line)
// or it cannot be used (one warning line with the reason; the file is kept
// aside as <name>.corrupt-<unix time>). err is set only when the file exists
// but cannot be read at all, which the caller should not run past.
func (f *StateFile) load(t *tracker) (_ *tracker, _ resumable, ok bool, _ error) {
	raw, err := os.ReadFile(f.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		f.logger.Info("no state file yet: counting starts with a first pass over the lookback", "file", f.path)
		f.restored.Set(0)
		return nil, resumable{}, false, nil
	case err != nil:
		return nil, resumable{}, false, fmt.Errorf("reading the state file: %w", err)
	}
	nt, p, err := f.decode(raw, t)
	if err != nil {
		kept := fmt.Sprintf("%s.corrupt-%d", f.path, time.Now().Unix())
		args := []any{"file", f.path, "reason", err.Error()}
		if rerr := os.Rename(f.path, kept); rerr != nil {
			args = append(args, "not_kept", rerr.Error())
		} else {
			args = append(args, "kept_as", kept)
		}
		f.logger.Warn("discarding the state file: counting starts afresh with a first pass over the lookback", args...)
		f.restored.Set(0)
		return nil, resumable{}, false, nil
	}
	f.restored.Set(1)
	f.logger.Info("resuming from the state file", "file", f.path, "tracked_activities", nt.entries.len(), "cursor", p.cursor.Modified)
	return nt, p, true, nil
}

func (f *StateFile) decode(raw []byte, t *tracker) (*tracker, resumable, error) {
	if len(raw) < statePrefixLen {
		if len(raw) >= len(stateMagic) && string(raw[:len(stateMagic)]) != stateMagic {
			return nil, resumable{}, badState("not a state file of this exporter")
		}
		return nil, resumable{}, badState("truncated: %d bytes, shorter than the header", len(raw))
	}
	if string(raw[:len(stateMagic)]) != stateMagic {
		return nil, resumable{}, badState("not a state file of this exporter")
	}
	if v := binary.LittleEndian.Uint32(raw[8:]); v != stateFormat {
		return nil, resumable{}, badState("format version %d, this exporter reads version %d", v, stateFormat)
	}
	rest := raw[statePrefixLen:]
	switch length := binary.LittleEndian.Uint64(raw[12:]); {
	case uint64(len(rest)) < length:
		return nil, resumable{}, badState("truncated: %d bytes of %d", len(rest), length)
	case uint64(len(rest)) > length:
		return nil, resumable{}, badState("corrupt: %d bytes after the end", uint64(len(rest))-length)
	}
	if sum := sha256.Sum256(rest); !bytes.Equal(sum[:], raw[20:statePrefixLen]) {
		return nil, resumable{}, badState("checksum mismatch: the file is corrupt")
	}
	head := &stateReader{b: rest}
	url, clientID, lookback := head.str(), head.str(), time.Duration(head.i64())*time.Millisecond
	head.i64() // written at
	if head.err != nil {
		return nil, resumable{}, badState("corrupt header: %v", head.err)
	}
	switch {
	case url != strings.TrimRight(f.id.URL, "/"):
		return nil, resumable{}, badState("written for another tenant (%s), not %s", url, strings.TrimRight(f.id.URL, "/"))
	case clientID != f.id.ClientID:
		return nil, resumable{}, badState("written for another client id (%s), not %s", clientID, f.id.ClientID)
	case lookback != f.id.Lookback:
		return nil, resumable{}, badState("written with --activities.lookback=%s, this run uses %s", lookback, f.id.Lookback)
	}
	nt, p, err := decodeState(rest[head.off:], t)
	if err != nil {
		return nil, resumable{}, badState("%v", err)
	}
	return nt, p, nil
}
