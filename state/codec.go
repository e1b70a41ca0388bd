package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrCorrupt says that a state file, or a section of it, does not decode:
// torn, edited or written by a broken process. Every error that Read and the
// areas' decoders return for such a file wraps it.
var ErrCorrupt = errors.New("corrupt state")

// chunk is how much an Encoder buffers before handing bytes on, so that a
// section of a million tracked activities does not need a 50 MB buffer.
const chunk = 256 << 10

// Encoder appends a section's body to a buffer that is handed to the file
// as it grows. Integers are little-endian, counts and string lengths
// uvarints. Its first error is kept and returned by Err; writes after it
// do nothing.
type Encoder struct {
	b     []byte
	flush func([]byte) error
	err   error
}

// NewEncoder returns an Encoder that hands its bytes to flush (in pieces of
// about 256 KiB, at the points the caller calls Flush, and at the end).
func NewEncoder(flush func([]byte) error) *Encoder {
	return &Encoder{b: make([]byte, 0, chunk+4096), flush: flush}
}

func (e *Encoder) U8(v uint8)   { e.b = append(e.b, v) }
func (e *Encoder) U16(v uint16) { e.b = binary.LittleEndian.AppendUint16(e.b, v) }
func (e *Encoder) U32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *Encoder) U64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *Encoder) I64(v int64)  { e.U64(uint64(v)) }
func (e *Encoder) F64(v float64) {
	e.U64(math.Float64bits(v))
}

// N writes a count.
func (e *Encoder) N(v int) { e.b = binary.AppendUvarint(e.b, uint64(v)) }

// Str writes a string with its length.
func (e *Encoder) Str(s string) {
	e.N(len(s))
	e.b = append(e.b, s...)
}

// Raw writes bytes as they are, without their length.
func (e *Encoder) Raw(p []byte) { e.b = append(e.b, p...) }

func (e *Encoder) Bool(v bool) {
	if v {
		e.U8(1)
	} else {
		e.U8(0)
	}
}

// Flush hands the buffer on once it has grown past a chunk; call it in
// loops over many records.
func (e *Encoder) Flush() {
	if len(e.b) >= chunk {
		e.handOn()
	}
}

func (e *Encoder) handOn() {
	if e.err == nil && len(e.b) > 0 {
		e.err = e.flush(e.b)
	}
	e.b = e.b[:0]
}

// Close hands on what is left and returns the first error of the flushes.
func (e *Encoder) Close() error {
	e.handOn()
	return e.err
}

// Decoder reads a section's body. After the first error every read returns
// zero and Err says what went wrong, wrapping ErrCorrupt.
type Decoder struct {
	b   []byte
	off int
	err error
}

// NewDecoder reads b.
func NewDecoder(b []byte) *Decoder { return &Decoder{b: b} }

// Fail records that the body does not decode: what, at the current offset.
func (d *Decoder) Fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at byte %d", ErrCorrupt, what, d.off)
	}
}

// Err is the first error, nil while the body decodes.
func (d *Decoder) Err() error { return d.err }

// Offset is how many bytes were read.
func (d *Decoder) Offset() int { return d.off }

// Done fails unless every byte was read, and returns Err.
func (d *Decoder) Done() error {
	if d.err == nil && d.off != len(d.b) {
		d.Fail("data after the end")
	}
	return d.err
}

// Take returns the next n bytes.
func (d *Decoder) Take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b)-d.off < n {
		d.Fail("unexpected end")
		return nil
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p
}

func (d *Decoder) U8() uint8 {
	if p := d.Take(1); p != nil {
		return p[0]
	}
	return 0
}

func (d *Decoder) U16() uint16 {
	if p := d.Take(2); p != nil {
		return binary.LittleEndian.Uint16(p)
	}
	return 0
}

func (d *Decoder) U32() uint32 {
	if p := d.Take(4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (d *Decoder) U64() uint64 {
	if p := d.Take(8); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

func (d *Decoder) I64() int64   { return int64(d.U64()) }
func (d *Decoder) F64() float64 { return math.Float64frombits(d.U64()) }
func (d *Decoder) Bool() bool   { return d.U8() != 0 }

// N reads a count, bounded by what the rest of the body could hold (each
// element takes at least one byte), so that a corrupt count cannot make a
// huge allocation.
func (d *Decoder) N() int {
	if d.err != nil {
		return 0
	}
	v, k := binary.Uvarint(d.b[d.off:])
	if k <= 0 || v > uint64(len(d.b)-d.off-k) {
		d.Fail("bad count")
		return 0
	}
	d.off += k
	return int(v)
}

// Str reads a string written by Encoder.Str.
func (d *Decoder) Str() string { return string(d.Take(d.N())) }

// Index reads a two-byte index into a table of n entries.
func (d *Decoder) Index(n int) uint16 {
	i := d.U16()
	if d.err == nil && int(i) >= n {
		d.Fail("label index out of range")
		return 0
	}
	return i
}
