package client

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"unicode/utf8"
)

// maxDepth is encoding/json's limit on nesting, so that the decoder accepts
// exactly what encoding/json accepts.
const maxDepth = 10000

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
