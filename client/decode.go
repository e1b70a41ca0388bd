package client

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"runtime/debug"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"
)

// maxInterned bounds the strings a decoder keeps for reuse, and
// maxInternedLen their length, so a tenant with an unbounded set of values
// (source ids, say, or 100,000-character types) costs allocations, never
// memory.
const (
	maxInterned    = 4096
	maxInternedLen = 256
)

// maxBody bounds one answer: a page of 250 activities is about a megabyte.
const maxBody = 64 << 20

// keepBuffer is the largest body buffer a decoder keeps for the next page;
// a larger one, from an oversized answer, goes back to the garbage collector.
const keepBuffer = 4 << 20

// maxDepth is encoding/json's limit on nesting, so that the decoder accepts
// exactly what encoding/json accepts.
const maxDepth = 10000

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

// Field names as encoding/json folds them: see fieldOf.
const (
	fID = iota + 1
	fType
	fCompletionStatus
	fExecutionStatus
	fCreated
	fModified
	fCompleted
	fErrors
	fWarnings
	fItems
	fProvisioningStatus
	fOperation
	fSourceID
)

var activityFields = []string{fID: "id", fType: "type", fCompletionStatus: "completionStatus", fExecutionStatus: "executionStatus",
	fCreated: "created", fModified: "modified", fCompleted: "completed", fErrors: "errors", fWarnings: "warnings", fItems: "items"}

var itemFields = []string{fProvisioningStatus: "provisioningStatus", fOperation: "operation", fSourceID: "sourceId"}

// fieldOf returns which of names (indexed by field constant) name is, the
// way encoding/json matches a key to a struct field: exactly, or else by its
// case-folded form; 0 when none. Most names of a page are fields the
// exporter skips, so the exact match is a switch and the folded one is only
// tried where a length allows it.
func fieldOf(name []byte, names []string) int {
	if f := exactField(name); f != 0 && f < len(names) && names[f] != "" {
		return f
	}
	if len(name) < len(foldCandidates) {
		for _, f := range foldCandidates[len(name)] {
			if f < len(names) && names[f] != "" && asciiEqualFold(name, names[f]) {
				return f
			}
		}
	}
	// Only two runes outside ASCII fold to an ASCII letter: ſ (U+017F, to s)
	// and the Kelvin sign (U+212A, to k), whose encodings begin with these.
	if bytes.IndexByte(name, 0xC5) >= 0 || bytes.IndexByte(name, 0xE2) >= 0 {
		for f, n := range names {
			if n != "" && foldedEqual(name, n) {
				return f
			}
		}
	}
	return 0
}

// foldCandidates lists, by length, the fields whose name has that length:
// only those can match a name of that length case-insensitively in ASCII.
var foldCandidates = func() [20][]int {
	var out [20][]int
	for f, n := range activityFields {
		if n != "" {
			out[len(n)] = append(out[len(n)], f)
		}
	}
	for f, n := range itemFields {
		if n != "" {
			out[len(n)] = append(out[len(n)], f)
		}
	}
	return out
}()

// exactField is the field named exactly name, of either kind.
func exactField(name []byte) int {
	switch string(name) {
	case "id":
		return fID
	case "type":
		return fType
	case "completionStatus":
		return fCompletionStatus
	case "executionStatus":
		return fExecutionStatus
	case "created":
		return fCreated
	case "modified":
		return fModified
	case "completed":
		return fCompleted
	case "errors":
		return fErrors
	case "warnings":
		return fWarnings
	case "items":
		return fItems
	case "provisioningStatus":
		return fProvisioningStatus
	case "operation":
		return fOperation
	case "sourceId":
		return fSourceID
	}
	return 0
}

func asciiEqualFold(a []byte, b string) bool {
	for i := range a {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// foldedEqual compares name, folded as encoding/json folds (each rune to the
// smallest of its simple case folding orbit), with the ASCII field name n.
func foldedEqual(name []byte, n string) bool {
	j := 0
	for i := 0; i < len(name); {
		r, size := utf8.DecodeRune(name[i:])
		i += size
		for {
			r2 := unicode.SimpleFold(r)
			if r2 <= r {
				r = r2
				break
			}
			r = r2
		}
		if r >= utf8.RuneSelf || j >= len(n) {
			return false
		}
		c := n[j]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if byte(r) != c {
			return false
		}
		j++
	}
	return j == len(n)
}

func (p *pageDecoder) decodeActivity(a *Activity) error {
	items := a.Items[:0]
	*a = Activity{}
	if p.peek() == 'n' {
		// null decodes as an activity without fields: one without an id.
		if err := p.literal("null"); err != nil {
			return p.syntax(err)
		}
		return nil
	}
	if p.peek() != '{' {
		p.reject(RejectWrongType, "an element is not an object")
		return p.skip()
	}
	itemsSeen := false
	return p.object(func(name []byte) error {
		var err error
		switch fieldOf(name, activityFields) {
		case fID:
			a.ID, err = p.stringValue(false)
		case fType:
			a.Type, err = p.stringValue(true)
		case fCompletionStatus:
			a.CompletionStatus, err = p.stringValue(true)
		case fExecutionStatus:
			a.ExecutionStatus, err = p.stringValue(true)
		case fCreated:
			a.Created, err = p.timeValue("created")
		case fModified:
			a.Modified, err = p.timeValue("modified")
		case fCompleted:
			a.Completed, err = p.timeValue("completed")
		case fErrors:
			a.Errors, err = p.countStrings("errors")
		case fWarnings:
			a.Warnings, err = p.countStrings("warnings")
		case fItems:
			if !itemsSeen {
				a.Items = items[:0]
			}
			itemsSeen = true
			a.Items, err = p.decodeItems(a.Items)
		default:
			err = p.skip()
		}
		return err
	})
}

// decodeItems reads the items array into items, which holds what an earlier
// "items" field of the same activity left: encoding/json decodes a repeated
// array over the elements of the first.
func (p *pageDecoder) decodeItems(items []Item) ([]Item, error) {
	switch p.peek() {
	case 'n':
		return nil, p.skip()
	case '[':
	default:
		p.reject(RejectWrongType, "items is not an array")
		return items, p.skip()
	}
	n := 0
	err := p.array(func() error {
		if n >= len(items) {
			items = append(items, Item{})
		}
		it := &items[n]
		n++
		switch p.peek() {
		case 'n':
			return p.skip()
		case '{':
		default:
			p.reject(RejectWrongType, "an item is not an object")
			return p.skip()
		}
		return p.object(func(name []byte) error {
			var err error
			switch fieldOf(name, itemFields) {
			case fProvisioningStatus:
				it.ProvisioningStatus, err = p.stringValue(true)
			case fOperation:
				it.Operation, err = p.stringValue(true)
			case fSourceID:
				it.SourceID, err = p.stringValue(true)
			default:
				err = p.skip()
			}
			return err
		})
	})
	return items[:n], err
}

// object walks an object, calling field with each name; field must consume
// the value.
func (p *pageDecoder) object(field func(name []byte) error) error {
	if err := p.expect('{'); err != nil {
		return err
	}
	if err := p.push(); err != nil {
		return err
	}
	defer p.pop()
	if p.peek() == '}' {
		p.pos++
		return nil
	}
	for {
		if p.peek() != '"' {
			return p.syntax(errors.New("expected an object name"))
		}
		var name []byte
		var err error
		if field != nil {
			name, err = p.str()
		} else {
			err = p.skipStr()
		}
		if err != nil {
			return err
		}
		if err := p.expect(':'); err != nil {
			return err
		}
		if field != nil {
			err = field(name)
		} else {
			err = p.skip()
		}
		if err != nil {
			return err
		}
		switch p.peek() {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return nil
		case 0:
			return p.syntax(io.ErrUnexpectedEOF)
		default:
			return p.syntax(errors.New("expected , or } after an object value"))
		}
	}
}

// array walks an array, calling elem for each element; elem must consume it.
func (p *pageDecoder) array(elem func() error) error {
	if err := p.expect('['); err != nil {
		return err
	}
	if err := p.push(); err != nil {
		return err
	}
	defer p.pop()
	if p.peek() == ']' {
		p.pos++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch p.peek() {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return nil
		case 0:
			return p.syntax(io.ErrUnexpectedEOF)
		default:
			return p.syntax(errors.New("expected , or ] after an array element"))
		}
	}
}

func (p *pageDecoder) push() error {
	p.depth++
	if p.depth > maxDepth {
		err := p.syntax(errors.New("exceeded max depth"))
		var de *DecodeError
		if errors.As(err, &de) {
			de.Reason = RejectTooDeep
		}
		return err
	}
	return nil
}

func (p *pageDecoder) pop() { p.depth-- }

// stringValue reads a string: null reads as "", another type rejects the
// element. Invalid UTF-8 is replaced as encoding/json replaces it.
func (p *pageDecoder) stringValue(intern bool) (string, error) {
	switch p.peek() {
	case '"':
	case 'n':
		return "", p.skip()
	default:
		p.reject(RejectWrongType, "a string field holds another type")
		return "", p.skip()
	}
	content, err := p.str()
	if err != nil {
		return "", err
	}
	if !utf8.Valid(content) {
		content = p.replaceInvalid(content)
	}
	if !intern || len(content) > maxInternedLen {
		return string(content), nil
	}
	if s, ok := p.strings[string(content)]; ok {
		return s, nil
	}
	s := string(content)
	if len(p.strings) < maxInterned {
		p.strings[s] = s
	}
	return s, nil
}

// replaceInvalid replaces each byte of invalid UTF-8 by U+FFFD, as
// encoding/json does (strings.ToValidUTF8 would replace whole runs).
func (p *pageDecoder) replaceInvalid(s []byte) []byte {
	out := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			out = append(out, "\uFFFD"...)
		} else {
			out = append(out, s[i:i+size]...)
		}
		i += size
	}
	return out
}

// timeValue reads an RFC 3339 timestamp as time.Time's UnmarshalJSON does
// (no unescaping, strict RFC 3339); null reads as the zero time, anything
// else rejects the element.
func (p *pageDecoder) timeValue(field string) (time.Time, error) {
	switch p.peek() {
	case '"':
	case 'n':
		return time.Time{}, p.skip()
	default:
		p.reject(RejectInvalidTimestamp, field+" is not a string")
		return time.Time{}, p.skip()
	}
	start := p.pos
	if err := p.skipStr(); err != nil {
		return time.Time{}, err
	}
	raw := p.buf[start+1 : p.pos-1]
	if t, ok := parseUTCMillis(raw); ok {
		return t, nil
	}
	var t time.Time
	if err := t.UnmarshalJSON(p.buf[start:p.pos]); err != nil {
		p.reject(RejectInvalidTimestamp, fmt.Sprintf("%s %q is not an RFC 3339 timestamp", field, truncateBytes(raw, 40)))
		return time.Time{}, nil //nolint:nilerr // a bad timestamp rejects the element, not the page
	}
	return t.UTC(), nil
}

func truncateBytes(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// countStrings returns the length of an array of strings; null is empty,
// anything else rejects the element.
func (p *pageDecoder) countStrings(field string) (int, error) {
	switch p.peek() {
	case '[':
	case 'n':
		return 0, p.skip()
	default:
		p.reject(RejectWrongType, field+" is not an array")
		return 0, p.skip()
	}
	n := 0
	err := p.array(func() error {
		n++
		switch p.peek() {
		case '"', 'n':
		default:
			p.reject(RejectWrongType, field+" holds something else than strings")
		}
		return p.skip()
	})
	return n, err
}

// SWAR constants: one bit per byte.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// specialAt returns the index of the first byte at or after i that a string
// cannot hold as it is: '"', '\\' or a control character; len(b) if none.
// Eight bytes at a time: most of a page's bytes are strings.
func specialAt(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q := x ^ (lsb * '"')
		s := x ^ (lsb * '\\')
		// A zero byte of q or s, or a byte of x below 0x20; a borrow can
		// only mark bytes above a true match, so the lowest mark is true.
		m := ((q - lsb) &^ q) | ((s - lsb) &^ s) | ((x - lsb*0x20) &^ x)
		if m &= msb; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' || c < 0x20 {
			return i
		}
	}
	return len(b)
}

// str reads a string at pos and returns its content, unescaped. The result
// is only valid until the next call.
func (p *pageDecoder) str() ([]byte, error) {
	start := p.pos + 1
	end := specialAt(p.buf, start)
	switch {
	case end == len(p.buf):
		p.pos = end
		return nil, p.syntax(io.ErrUnexpectedEOF)
	case p.buf[end] == '"':
		p.pos = end + 1
		return p.buf[start:end], nil
	case p.buf[end] == '\\':
		return p.unescape(start, end)
	}
	p.pos = end
	return nil, p.syntax(errors.New("invalid character in string literal"))
}

// skipStr passes over a string whose content is not needed, which is most
// of a page's bytes (comments, error messages, display names), checking it
// as encoding/json would.
func (p *pageDecoder) skipStr() error {
	i := p.pos + 1
	for {
		i = specialAt(p.buf, i)
		switch {
		case i == len(p.buf):
			p.pos = i
			return p.syntax(io.ErrUnexpectedEOF)
		case p.buf[i] == '"':
			p.pos = i + 1
			return nil
		case p.buf[i] == '\\':
			n, err := p.escapeLen(i)
			if err != nil {
				return err
			}
			i += n
		default:
			p.pos = i
			return p.syntax(errors.New("invalid character in string literal"))
		}
	}
}

// escapeLen checks the escape sequence at i and returns its length.
func (p *pageDecoder) escapeLen(i int) (int, error) {
	if i+1 >= len(p.buf) {
		p.pos = len(p.buf)
		return 0, p.syntax(io.ErrUnexpectedEOF)
	}
	switch e := p.buf[i+1]; e {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, nil
	case 'u':
		for j := i + 2; j < i+6; j++ {
			if j >= len(p.buf) {
				p.pos = len(p.buf)
				return 0, p.syntax(io.ErrUnexpectedEOF)
			}
			if !isHex(p.buf[j]) {
				p.pos = j
				return 0, p.syntax(errors.New("invalid character in \\u escape"))
			}
		}
		return 6, nil
	default:
		p.pos = i + 1
		return 0, p.syntax(fmt.Errorf("invalid escape \\%c", e))
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// unescape reads an escaped string's content starting at start, whose first
// special byte is at i.
func (p *pageDecoder) unescape(start, i int) ([]byte, error) {
	out := append(p.scratch[:0], p.buf[start:i]...)
	for {
		if i >= len(p.buf) {
			p.pos = i
			return nil, p.syntax(io.ErrUnexpectedEOF)
		}
		c := p.buf[i]
		switch {
		case c == '"':
			p.pos, p.scratch = i+1, out
			return out, nil
		case c < 0x20:
			p.pos = i
			return nil, p.syntax(errors.New("invalid character in string literal"))
		case c != '\\':
			j := specialAt(p.buf, i)
			out = append(out, p.buf[i:j]...)
			i = j
			continue
		}
		n, err := p.escapeLen(i)
		if err != nil {
			return nil, err
		}
		switch e := p.buf[i+1]; e {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, size := p.unicodeEscape(i)
			out = utf8.AppendRune(out, r)
			n = size
		default: // " \ /
			out = append(out, e)
		}
		i += n
	}
}

// unicodeEscape decodes the checked \uXXXX at i, and a low surrogate after a
// high one, as encoding/json does, and returns the rune and the bytes used.
func (p *pageDecoder) unicodeEscape(i int) (rune, int) {
	hi := hex4(p.buf[i+2 : i+6])
	if hi < 0xD800 || hi > 0xDFFF {
		return rune(hi), 6
	}
	if hi <= 0xDBFF && i+12 <= len(p.buf) && p.buf[i+6] == '\\' && p.buf[i+7] == 'u' {
		if ok := isHex(p.buf[i+8]) && isHex(p.buf[i+9]) && isHex(p.buf[i+10]) && isHex(p.buf[i+11]); ok {
			if lo := hex4(p.buf[i+8 : i+12]); lo >= 0xDC00 && lo <= 0xDFFF {
				return rune((hi-0xD800)<<10|(lo-0xDC00)) + 0x10000, 12
			}
		}
	}
	return utf8.RuneError, 6
}

func hex4(b []byte) int {
	n := 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			n = n<<4 | int(c-'0')
		case c >= 'a' && c <= 'f':
			n = n<<4 | int(c-'a'+10)
		default:
			n = n<<4 | int(c-'A'+10)
		}
	}
	return n
}

// skip checks and passes over one value of any kind.
func (p *pageDecoder) skip() error {
	switch c := p.peek(); c {
	case '"':
		return p.skipStr()
	case '{':
		return p.object(nil)
	case '[':
		return p.array(p.skip)
	case 't':
		return p.syntax(p.literal("true"))
	case 'f':
		return p.syntax(p.literal("false"))
	case 'n':
		return p.syntax(p.literal("null"))
	case 0:
		if p.pos < len(p.buf) {
			return p.syntax(errors.New("invalid character '\\x00' looking for beginning of value"))
		}
		return p.syntax(io.ErrUnexpectedEOF)
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return p.number()
		}
		return p.syntax(fmt.Errorf("invalid character %q looking for beginning of value", c))
	}
}

// literal passes over word, or returns why it cannot.
func (p *pageDecoder) literal(word string) error {
	if !bytes.HasPrefix(p.buf[p.pos:], []byte(word)) {
		if len(p.buf)-p.pos < len(word) && bytes.HasPrefix([]byte(word), p.buf[p.pos:]) {
			p.pos = len(p.buf)
			return io.ErrUnexpectedEOF
		}
		return fmt.Errorf("invalid literal, expected %s", word)
	}
	p.pos += len(word)
	return nil
}

// number checks -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?
func (p *pageDecoder) number() error {
	b, i := p.buf, p.pos
	digits := func() bool {
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i > j
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		p.pos = i
		return p.syntax(errors.New("invalid number"))
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			p.pos = i
			return p.syntax(errors.New("invalid number"))
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			p.pos = i
			return p.syntax(errors.New("invalid number"))
		}
	}
	p.pos = i
	return nil
}

// peek skips white space and returns the next byte, or 0 at the end.
func (p *pageDecoder) peek() byte {
	for p.pos < len(p.buf) {
		switch c := p.buf[p.pos]; c {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return c
		}
	}
	return 0
}

func (p *pageDecoder) expect(c byte) error {
	switch got := p.peek(); got {
	case c:
		p.pos++
		return nil
	case 0:
		if p.pos < len(p.buf) {
			return p.syntax(fmt.Errorf("expected %q, found '\\x00'", c))
		}
		return p.syntax(io.ErrUnexpectedEOF)
	default:
		return p.syntax(fmt.Errorf("expected %q, found %q", c, got))
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
