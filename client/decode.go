package client

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"time"
	"unicode/utf8"
)

// maxBody bounds one answer: a page of 250 activities is about a megabyte.
const maxBody = 64 << 20

// keepBuffer is the largest body buffer a decoder keeps for the next page;
// a larger one, from an oversized answer, goes back to the garbage collector.
const keepBuffer = 4 << 20

// Why an element of a page was not taken: the values of Rejection.Reason.
const (
	RejectMalformed        = "malformed_json"    // not JSON; only a page of one element is rejected for it
	RejectTooLarge         = "too_large"         // an answer of one element larger than maxBody
	RejectTooDeep          = "too_deep"          // nested deeper than maxDepth
	RejectInvalidTimestamp = "invalid_timestamp" // created, modified or completed not an RFC 3339 string
	RejectWrongType        = "wrong_type"        // a field the exporter reads is not of the spec's type
	RejectMissingID        = "missing_id"        // no id, or an empty one
)

// RejectReasons lists every Rejection.Reason.
var RejectReasons = []string{RejectMalformed, RejectTooLarge, RejectTooDeep, RejectInvalidTimestamp, RejectWrongType, RejectMissingID}

// Rejection is an element of a page that is not an account activity the
// exporter can use. Its neighbours are delivered as usual.
type Rejection struct {
	Reason   string
	ID       string    // "" when it cannot be read
	Modified time.Time // zero when it cannot be read
	// Key tells one rejected record from another across pages and refreshes:
	// its id and modified when readable, else a hash of its bytes.
	Key    string
	Detail string
	At     Cursor // of the request that delivered it
}

// pageDecoder turns one list response into Activities. It reads a page into a
// reused buffer and walks it once: the few fields the exporter uses are
// decoded, everything else (most of a 3 KB activity: identity summaries,
// comments, metadata) is only checked for well-formedness and skipped.
// Label-like strings are interned, so a page costs about one allocation per
// activity. Writing this by hand instead of using a JSON library makes
// ingestion several times faster; the exporter spends most of its CPU here.
//
// It accepts and rejects exactly what encoding/json does: the same syntax
// (escapes, control characters, nesting up to 10,000), invalid UTF-8
// replaced byte by byte, field names matched without regard to case, the
// last of duplicate fields winning; FuzzDecodeAgainstEncodingJSON holds it to
// that. A syntax error fails the page; an element that is JSON but not an
// activity (a bad timestamp, a field of the wrong type, no id) is rejected
// on its own.
type pageDecoder struct {
	body    []byte
	buf     []byte
	pos     int
	depth   int
	strings map[string]string
	scratch []byte

	// Of the element being decoded.
	element int    // index in the page, -1 outside elements
	reason  string // why it cannot be taken; "" while it can
	detail  string
}

func newPageDecoder() *pageDecoder {
	return &pageDecoder{strings: make(map[string]string), element: -1}
}

// DecodeError says that an answer of ISC was not the JSON the spec describes.
type DecodeError struct {
	Offset int // byte offset in the body where decoding stopped
	// Element is the index of the page's element in which decoding stopped,
	// -1 outside any; the elements before it were well-formed.
	Element int
	Reason  string // RejectMalformed, RejectTooDeep or RejectTooLarge
	// Complete is set when the whole answer was read: the same request will
	// most likely fail the same way. Unset, the answer was cut short.
	Complete bool
	Hash     string // of the body, to tell a repeated failure from a new one
	ID       string // of the element, if it could be read
	Err      error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("malformed account activity JSON at byte %d: %v", e.Offset, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// read loads one answer into the reused buffer. length is the announced
// Content-Length, -1 when unknown.
func (p *pageDecoder) read(r io.Reader, length int64) error {
	if length > maxBody {
		p.buf, p.pos = nil, 0
		return &DecodeError{Element: -1, Reason: RejectTooLarge, Complete: true, Hash: fmt.Sprintf("length:%d", length),
			Err: fmt.Errorf("answer of %d bytes, larger than %d", length, maxBody)}
	}
	b := p.body[:0]
	if length > 0 && int64(cap(b)) < length {
		b = make([]byte, 0, length)
	}
	for len(b) <= maxBody {
		if len(b) == cap(b) {
			if length >= 0 && int64(len(b)) >= length {
				// All that was announced is here: only the end should follow.
				var one [1]byte
				n, err := r.Read(one[:])
				b = append(b, one[:n]...)
				if err == io.EOF {
					break
				}
				if err != nil {
					p.keep(b)
					return &DecodeError{Offset: len(b), Element: -1, Reason: RejectMalformed, Err: err}
				}
				continue
			}
			b = slices.Grow(b, min(max(cap(b), 64<<10), maxBody+1-len(b)))
		}
		n, err := r.Read(b[len(b):min(cap(b), maxBody+1)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			p.keep(b)
			return &DecodeError{Offset: len(b), Element: -1, Reason: RejectMalformed, Err: err}
		}
	}
	p.keep(b)
	if len(b) > maxBody {
		sum := sha256.Sum256(b)
		return &DecodeError{Offset: len(b), Element: -1, Reason: RejectTooLarge, Complete: true, Hash: hex.EncodeToString(sum[:]),
			Err: fmt.Errorf("answer larger than %d bytes", maxBody)}
	}
	return nil
}

// keep holds on to b for the next answer unless it is oversized.
func (p *pageDecoder) keep(b []byte) {
	p.buf, p.pos = b, 0
	if cap(b) <= keepBuffer {
		p.body = b
	} else {
		p.body = nil
	}
}

// release drops the buffer of an answer once decoding is done. After an
// oversized one, the memory goes back to the system at once: a single
// 64 MiB answer must not leave the process that much larger for minutes.
func (p *pageDecoder) release() {
	oversized := cap(p.buf) > keepBuffer
	p.buf = nil
	if oversized {
		debug.FreeOSMemory()
	}
}

// listResult is one decoded page.
type listResult struct {
	activities []Activity
	rejected   []Rejection
	// modified of every element, in order; zero where it cannot be read.
	// The cursor advances by these.
	modified []time.Time
}

// decodeList reads a JSON array of activities from r, reusing res's storage.
func (p *pageDecoder) decodeList(r io.Reader, length int64, res *listResult) error {
	res.activities, res.rejected, res.modified = res.activities[:0], res.rejected[:0], res.modified[:0]
	err := p.read(r, length)
	if err == nil {
		err = p.list(res)
	}
	p.release()
	return err
}

func (p *pageDecoder) list(res *listResult) error {
	p.depth, p.element = 0, -1
	if p.peek() == 'n' {
		// encoding/json decodes null into a slice as no elements.
		if err := p.literal("null"); err != nil {
			return p.syntax(err)
		}
		return p.end()
	}
	if p.peek() != '[' {
		if err := p.skip(); err != nil {
			return err
		}
		if err := p.end(); err != nil {
			return err
		}
		return p.syntax(errors.New("the answer is not an array of account activities"))
	}
	i := 0
	err := p.array(func() error {
		p.element, p.reason, p.detail = i, "", ""
		start := p.pos
		if len(res.activities) < cap(res.activities) {
			res.activities = res.activities[:len(res.activities)+1]
		} else {
			res.activities = append(res.activities, Activity{})
		}
		a := &res.activities[len(res.activities)-1]
		if err := p.decodeActivity(a); err != nil {
			return err
		}
		switch {
		case p.reason == "" && a.ID == "":
			p.reject(RejectMissingID, "no id")
			fallthrough
		case p.reason != "":
			key := a.ID + "@" + a.Modified.String()
			if a.ID == "" || a.Modified.IsZero() {
				sum := sha256.Sum256(p.buf[start:p.pos])
				key = "sha256:" + hex.EncodeToString(sum[:16])
			}
			res.rejected = append(res.rejected, Rejection{Reason: p.reason, ID: a.ID, Modified: a.Modified, Key: key, Detail: p.detail})
			res.modified = append(res.modified, a.Modified)
			res.activities = res.activities[:len(res.activities)-1]
		default:
			res.modified = append(res.modified, a.Modified)
		}
		i++
		return nil
	})
	p.element = -1
	if err != nil {
		return err
	}
	return p.end()
}

// decodeOne reads a single activity object, as GET .../{id} answers it.
func (p *pageDecoder) decodeOne(r io.Reader, length int64) (Activity, error) {
	defer p.release()
	var a Activity
	if err := p.read(r, length); err != nil {
		return a, err
	}
	p.depth, p.element, p.reason = 0, 0, ""
	if err := p.decodeActivity(&a); err != nil {
		return Activity{}, err
	}
	if err := p.end(); err != nil {
		return Activity{}, err
	}
	if p.reason != "" {
		return Activity{}, p.syntax(fmt.Errorf("%s: %s", p.reason, p.detail))
	}
	return a, nil
}

// end fails if anything but white space follows the value just read.
func (p *pageDecoder) end() error {
	if p.peek(); p.pos < len(p.buf) {
		return p.syntax(errors.New("unexpected data after the value"))
	}
	return nil
}

// reject marks the element being decoded as unusable; the first reason wins.
func (p *pageDecoder) reject(reason, detail string) {
	if p.reason == "" {
		p.reason, p.detail = reason, detail
	}
}

// syntax turns err into a DecodeError at the current position; nil stays nil.
func (p *pageDecoder) syntax(err error) error {
	if err == nil {
		return nil
	}
	sum := sha256.Sum256(p.buf)
	return &DecodeError{Offset: p.pos, Element: p.element, Reason: RejectMalformed, Complete: true,
		Hash: hex.EncodeToString(sum[:]), ID: idNear(p.buf, p.pos), Err: err}
}

// idNear finds the id of the activity in which decoding stopped at pos, if
// its "id" field comes before pos, for a log line.
func idNear(buf []byte, pos int) string {
	start := max(0, pos-16<<10)
	i := bytes.LastIndex(buf[start:min(pos, len(buf))], []byte(`"id":"`))
	if i < 0 {
		return ""
	}
	s := buf[start+i+len(`"id":"`):]
	end := bytes.IndexByte(s[:min(len(s), 80)], '"')
	if end <= 0 || !utf8.Valid(s[:end]) {
		return ""
	}
	return string(s[:end])
}
