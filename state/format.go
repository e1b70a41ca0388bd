package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The state file's layout: a fixed prefix, then whom it belongs to, then one
// section per area. The checksum covers everything after the prefix, so a
// torn or edited file is never loaded.
//
//	magic    [8]  "SPXSTATE"
//	format   u32  2
//	length   u64  bytes after the prefix
//	sha256   [32] of the bytes after the prefix
//	url, client id (strings), written at (i64 unix ms)
//	sections, each: name (string), then its body in chunks (uvarint length
//	and bytes) ended by a chunk of length 0; after the last, an empty name.
//
// Format 1, written before the file had sections, held the account
// activities alone: url, client id, lookback (i64 ms), written at, then
// their body. It is read as the section "activities" whose body is the
// lookback followed by that body, which is what format 2 writes for them.
const (
	magic          = "SPXSTATE"
	prefixLen      = 8 + 4 + 8 + sha256.Size
	formatSections = 2
	formatV1       = 1
	// Format is the version this exporter writes.
	Format = formatSections
)

// Sentinel errors of a state file that cannot be used, wrapped by
// BadFileError. A file of ErrCorrupt or ErrFormat is set aside; one that
// belongs to another tenant or client id (ErrOwner) too.
var (
	ErrFormat = errors.New("not a state file of this format")
	ErrOwner  = errors.New("state file of another tenant or client id")
	// ErrSettings says that a section was written with settings that change
	// what it means (a lookback, say): its area starts afresh.
	ErrSettings = errors.New("state written with other settings")
)

// BadFileError says why a state file, or a section of it, cannot be used.
// Its message is the reason as the log line gives it; errors.Is matches the
// sentinel it wraps (ErrCorrupt, ErrFormat, ErrOwner, ErrSettings).
type BadFileError struct {
	Reason string
	Err    error
}

func (e *BadFileError) Error() string { return e.Reason }
func (e *BadFileError) Unwrap() error { return e.Err }

func bad(sentinel error, format string, args ...any) error {
	return &BadFileError{Reason: fmt.Sprintf(format, args...), Err: sentinel}
}

// Identity is what a state file belongs to. A file written for another
// tenant or client id is not loaded: its counts would not be ours.
type Identity struct {
	URL      string
	ClientID string
}

func (id Identity) url() string { return strings.TrimRight(id.URL, "/") }

// Contents is what a state file holds.
type Contents struct {
	Format    uint32
	WrittenAt time.Time
	// Sections holds each section's body by name, in Names' order.
	Sections map[string][]byte
	Names    []string
}

// Parse checks raw, a whole state file, and returns its sections. Every
// error is a *BadFileError.
func Parse(raw []byte, id Identity) (*Contents, error) {
	if len(raw) < prefixLen {
		if len(raw) >= len(magic) && string(raw[:len(magic)]) != magic {
			return nil, bad(ErrFormat, "not a state file of this exporter")
		}
		return nil, bad(ErrCorrupt, "truncated: %d bytes, shorter than the header", len(raw))
	}
	if string(raw[:len(magic)]) != magic {
		return nil, bad(ErrFormat, "not a state file of this exporter")
	}
	format := binary.LittleEndian.Uint32(raw[8:])
	if format != formatV1 && format != formatSections {
		return nil, bad(ErrFormat, "format version %d, this exporter reads versions %d to %d", format, formatV1, formatSections)
	}
	rest := raw[prefixLen:]
	switch length := binary.LittleEndian.Uint64(raw[12:]); {
	case uint64(len(rest)) < length:
		return nil, bad(ErrCorrupt, "truncated: %d bytes of %d", len(rest), length)
	case uint64(len(rest)) > length:
		return nil, bad(ErrCorrupt, "corrupt: %d bytes after the end", uint64(len(rest))-length)
	}
	if sum := sha256.Sum256(rest); !bytes.Equal(sum[:], raw[20:prefixLen]) {
		return nil, bad(ErrCorrupt, "checksum mismatch: the file is corrupt")
	}
	d := NewDecoder(rest)
	url, clientID := d.Str(), d.Str()
	var lookback []byte
	if format == formatV1 {
		lookback = d.Take(8)
	}
	written := d.I64()
	if d.Err() != nil {
		return nil, bad(ErrCorrupt, "corrupt header: %v", d.Err())
	}
	switch {
	case url != id.url():
		return nil, bad(ErrOwner, "written for another tenant (%s), not %s", url, id.url())
	case clientID != id.ClientID:
		return nil, bad(ErrOwner, "written for another client id (%s), not %s", clientID, id.ClientID)
	}
	c := &Contents{Format: format, WrittenAt: time.UnixMilli(written), Sections: map[string][]byte{}}
	if format == formatV1 {
		body := append(append(make([]byte, 0, 8+len(rest)-d.Offset()), lookback...), rest[d.Offset():]...)
		c.Sections[SectionActivities], c.Names = body, []string{SectionActivities}
		return c, nil
	}
	for {
		name := d.Str()
		if name == "" || d.Err() != nil {
			break
		}
		var body []byte
		for n := d.N(); n > 0 && d.Err() == nil; n = d.N() {
			body = append(body, d.Take(n)...)
		}
		if _, dup := c.Sections[name]; dup {
			d.Fail("section " + name + " twice")
		}
		c.Sections[name] = body
		c.Names = append(c.Names, name)
	}
	if err := d.Done(); err != nil {
		return nil, bad(ErrCorrupt, "%v", err)
	}
	return c, nil
}

// SectionActivities is the name of the account activities' section, the one
// a format 1 file holds.
const SectionActivities = "activities"
