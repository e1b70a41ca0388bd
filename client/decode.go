package client

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// maxInterned bounds the strings a decoder keeps for reuse, so a tenant with an
// unbounded set of values (source ids, say) costs allocations, never memory.
const maxInterned = 4096

// maxBody bounds one answer: a page of 250 activities is about a megabyte.
const maxBody = 64 << 20

// maxDepth bounds nesting in skipped values; ISC's activities nest four deep.
const maxDepth = 128

// pageDecoder turns one list response into Activities. It reads a page into a
// reused buffer and walks it once: the few fields the exporter uses are
// decoded, everything else (most of a 3 KB activity: identity summaries,
// comments, metadata) is only checked for well-formedness and skipped.
// Label-like strings are interned, so a page costs about one allocation per
// activity. Writing this by hand instead of using a JSON library makes
// ingestion several times faster; the exporter spends most of its CPU here.
type pageDecoder struct {
	body    bytes.Buffer
	buf     []byte
	pos     int
	strings map[string]string
	scratch []byte
}

func newPageDecoder() *pageDecoder {
	return &pageDecoder{strings: make(map[string]string)}
}

// DecodeError says that an answer of ISC was not the JSON the spec describes.
type DecodeError struct {
	Offset int // byte offset in the body where decoding stopped
	Err    error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("malformed account activity JSON at byte %d: %v", e.Offset, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// read loads one answer into the reused buffer.
func (p *pageDecoder) read(r io.Reader) error {
	p.body.Reset()
	n, err := p.body.ReadFrom(io.LimitReader(r, maxBody+1))
	p.buf, p.pos = p.body.Bytes(), 0
	switch {
	case err != nil:
		return &DecodeError{Offset: int(n), Err: err}
	case n > maxBody:
		return &DecodeError{Offset: int(n), Err: fmt.Errorf("answer larger than %d bytes", maxBody)}
	}
	return nil
}

// decodeList reads a JSON array of activities from r, reusing page's storage.
func (p *pageDecoder) decodeList(r io.Reader, page []Activity) ([]Activity, error) {
	page = page[:0]
	if err := p.read(r); err != nil {
		return page, err
	}
	err := p.array(func() error {
		if p.peek() == 'n' {
			return p.skip(1)
		}
		if len(page) < cap(page) {
			page = page[:len(page)+1]
		} else {
			page = append(page, Activity{})
		}
		if err := p.decodeActivity(&page[len(page)-1]); err != nil {
			page = page[:len(page)-1]
			return err
		}
		return nil
	})
	if err == nil {
		err = p.end()
	}
	return page, err
}

// decodeOne reads a single activity object, as GET .../{id} answers it.
func (p *pageDecoder) decodeOne(r io.Reader) (Activity, error) {
	var a Activity
	if err := p.read(r); err != nil {
		return a, err
	}
	if err := p.decodeActivity(&a); err != nil {
		return Activity{}, err
	}
	if err := p.end(); err != nil {
		return Activity{}, err
	}
	return a, nil
}

// end fails if anything but white space follows the value just read.
func (p *pageDecoder) end() error {
	if p.peek(); p.pos < len(p.buf) {
		return p.fail(errors.New("unexpected data after the value"))
	}
	return nil
}

func (p *pageDecoder) decodeActivity(a *Activity) error {
	items := a.Items[:0]
	*a = Activity{}
	return p.object(0, func(name []byte) error {
		var err error
		switch string(name) {
		case "id":
			a.ID, err = p.stringValue(false)
		case "type":
			a.Type, err = p.stringValue(true)
		case "completionStatus":
			a.CompletionStatus, err = p.stringValue(true)
		case "executionStatus":
			a.ExecutionStatus, err = p.stringValue(true)
		case "created":
			a.Created, err = p.timeValue()
		case "modified":
			a.Modified, err = p.timeValue()
		case "completed":
			a.Completed, err = p.timeValue()
		case "errors":
			a.Errors, err = p.countArray()
		case "warnings":
			a.Warnings, err = p.countArray()
		case "items":
			a.Items, err = p.decodeItems(items)
		default:
			err = p.skip(1)
		}
		return err
	})
}

func (p *pageDecoder) decodeItems(items []Item) ([]Item, error) {
	if p.peek() != '[' {
		// null, or a shape the spec does not allow: no items.
		return nil, p.skip(1)
	}
	items = items[:0]
	err := p.array(func() error {
		if p.peek() != '{' {
			return p.skip(2)
		}
		var it Item
		err := p.object(1, func(name []byte) error {
			var err error
			switch string(name) {
			case "provisioningStatus":
				it.ProvisioningStatus, err = p.stringValue(true)
			case "operation":
				it.Operation, err = p.stringValue(true)
			case "sourceId":
				it.SourceID, err = p.stringValue(true)
			default:
				err = p.skip(2)
			}
			return err
		})
		items = append(items, it)
		return err
	})
	return items, err
}

// object walks an object, calling field with each name; field must consume
// the value. Without field, names are not read and values are skipped.
func (p *pageDecoder) object(depth int, field func(name []byte) error) error {
	if err := p.expect('{'); err != nil {
		return err
	}
	if p.peek() == '}' {
		p.pos++
		return nil
	}
	for {
		if p.peek() != '"' {
			return p.fail(errors.New("expected an object name"))
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
			err = p.skip(depth + 1)
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
		default:
			return p.fail(errors.New("expected , or } after an object value"))
		}
	}
}

// array walks an array, calling elem for each element; elem must consume it.
func (p *pageDecoder) array(elem func() error) error {
	if err := p.expect('['); err != nil {
		return err
	}
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
		default:
			return p.fail(errors.New("expected , or ] after an array element"))
		}
	}
}

// stringValue reads a string; null or any non-string value reads as "", since
// the spec allows null and a value of the wrong type must not cost the page.
// Invalid UTF-8 is replaced: label values must be valid UTF-8.
func (p *pageDecoder) stringValue(intern bool) (string, error) {
	if p.peek() != '"' {
		return "", p.skip(1)
	}
	content, err := p.str()
	if err != nil {
		return "", err
	}
	if !utf8.Valid(content) {
		return strings.ToValidUTF8(string(content), "\uFFFD"), nil
	}
	if !intern {
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

// timeValue reads an RFC 3339 timestamp; null, a non-string or an unparsable
// string reads as the zero time, which the exporter treats as absent.
func (p *pageDecoder) timeValue() (time.Time, error) {
	if p.peek() != '"' {
		return time.Time{}, p.skip(1)
	}
	content, err := p.str()
	if err != nil {
		return time.Time{}, err
	}
	return parseTimestamp(content), nil
}

// countArray returns the length of an array of anything; null is empty.
func (p *pageDecoder) countArray() (int, error) {
	if p.peek() != '[' {
		return 0, p.skip(1)
	}
	n := 0
	err := p.array(func() error {
		n++
		return p.skip(2)
	})
	return n, err
}

// str reads a string at pos and returns its content, unescaped. The result
// is only valid until the next call.
func (p *pageDecoder) str() ([]byte, error) {
	start := p.pos + 1
	end := bytes.IndexByte(p.buf[start:], '"')
	if end < 0 {
		p.pos = len(p.buf)
		return nil, p.fail(io.ErrUnexpectedEOF)
	}
	end += start
	if bytes.IndexByte(p.buf[start:end], '\\') >= 0 {
		return p.unescape(start)
	}
	p.pos = end + 1
	return p.buf[start:end], nil
}

// skipStr passes over a string whose content is not needed, which is most of
// a page's bytes (comments, error messages, display names).
func (p *pageDecoder) skipStr() error {
	i := p.pos + 1
	for {
		j := bytes.IndexByte(p.buf[i:], '"')
		if j < 0 {
			p.pos = len(p.buf)
			return p.fail(io.ErrUnexpectedEOF)
		}
		i += j
		// The quote ends the string unless an odd run of backslashes escapes it.
		k := i - 1
		for k > p.pos && p.buf[k] == '\\' {
			k--
		}
		if (i-1-k)%2 == 0 {
			p.pos = i + 1
			return nil
		}
		i++
	}
}

// unescape reads an escaped string's content starting at start.
func (p *pageDecoder) unescape(start int) ([]byte, error) {
	out := p.scratch[:0]
	i := start
	for {
		if i >= len(p.buf) {
			p.pos = i
			return nil, p.fail(io.ErrUnexpectedEOF)
		}
		c := p.buf[i]
		switch {
		case c == '"':
			p.pos, p.scratch = i+1, out
			return out, nil
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(p.buf) {
			p.pos = i
			return nil, p.fail(io.ErrUnexpectedEOF)
		}
		switch e := p.buf[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
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
			r, n, ok := p.unicodeEscape(i)
			if !ok {
				p.pos = i
				return nil, p.fail(errors.New("invalid \\u escape"))
			}
			out = utf8.AppendRune(out, r)
			i += n
			continue
		default:
			p.pos = i
			return nil, p.fail(fmt.Errorf("invalid escape \\%c", e))
		}
		i += 2
	}
}

// unicodeEscape decodes \uXXXX at i, and a following low surrogate, and
// returns the rune and the bytes consumed.
func (p *pageDecoder) unicodeEscape(i int) (rune, int, bool) {
	hi, ok := hex4(p.buf, i+2)
	if !ok {
		return 0, 0, false
	}
	if hi < 0xD800 || hi > 0xDBFF {
		if hi >= 0xDC00 && hi <= 0xDFFF {
			return utf8.RuneError, 6, true
		}
		return rune(hi), 6, true
	}
	if i+12 <= len(p.buf) && p.buf[i+6] == '\\' && p.buf[i+7] == 'u' {
		if lo, ok := hex4(p.buf, i+8); ok && lo >= 0xDC00 && lo <= 0xDFFF {
			return rune((hi-0xD800)<<10|(lo-0xDC00)) + 0x10000, 12, true
		}
	}
	return utf8.RuneError, 6, true
}

func hex4(b []byte, i int) (int, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	n := 0
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			n = n<<4 | int(c-'0')
		case c >= 'a' && c <= 'f':
			n = n<<4 | int(c-'a'+10)
		case c >= 'A' && c <= 'F':
			n = n<<4 | int(c-'A'+10)
		default:
			return 0, false
		}
	}
	return n, true
}

// skip checks and passes over one value of any kind.
func (p *pageDecoder) skip(depth int) error {
	if depth > maxDepth {
		return p.fail(errors.New("nested too deep"))
	}
	switch c := p.peek(); c {
	case '"':
		return p.skipStr()
	case '{':
		return p.object(depth, nil)
	case '[':
		return p.array(func() error { return p.skip(depth + 1) })
	case 't':
		return p.literal("true")
	case 'f':
		return p.literal("false")
	case 'n':
		return p.literal("null")
	case 0:
		return p.fail(io.ErrUnexpectedEOF)
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return p.number()
		}
		return p.fail(fmt.Errorf("invalid character %q", c))
	}
}

func (p *pageDecoder) literal(word string) error {
	if !bytes.HasPrefix(p.buf[p.pos:], []byte(word)) {
		if len(p.buf)-p.pos < len(word) && bytes.HasPrefix([]byte(word), p.buf[p.pos:]) {
			return p.fail(io.ErrUnexpectedEOF)
		}
		return p.fail(fmt.Errorf("invalid literal, expected %s", word))
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
		return p.fail(errors.New("invalid number"))
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			p.pos = i
			return p.fail(errors.New("invalid number"))
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			p.pos = i
			return p.fail(errors.New("invalid number"))
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
		return p.fail(io.ErrUnexpectedEOF)
	default:
		return p.fail(fmt.Errorf("expected %q, found %q", c, got))
	}
}

func (p *pageDecoder) fail(err error) error {
	return &DecodeError{Offset: p.pos, Err: err}
}
