package client

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// maxInterned bounds the strings a decoder keeps for reuse, so a tenant with an
// unbounded set of values (source ids, say) costs allocations, never memory.
const maxInterned = 4096

// pageDecoder turns one list response into Activities. It reads the body as a
// stream of tokens and skips every field the exporter does not use, which is
// most of a 3 KB activity; label-like strings are interned so a page costs a
// few allocations per activity instead of dozens.
type pageDecoder struct {
	dec     *jsontext.Decoder
	strings map[string]string
	scratch []byte
}

func newPageDecoder() *pageDecoder {
	return &pageDecoder{
		dec:     jsontext.NewDecoder(strings.NewReader("")),
		strings: make(map[string]string),
	}
}

// DecodeError says that an answer of ISC was not the JSON the spec describes.
type DecodeError struct {
	Offset int64 // byte offset in the body where decoding stopped
	Err    error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("malformed account activity JSON at byte %d: %v", e.Offset, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// reset points the decoder at a new body. ISC's strings are UTF-8, but a
// stray invalid byte must not cost a page, nor a repeated name.
func (p *pageDecoder) reset(r io.Reader) {
	p.dec.Reset(r, jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true))
}

// decodeList reads a JSON array of activities from r, reusing page's storage.
func (p *pageDecoder) decodeList(r io.Reader, page []Activity) ([]Activity, error) {
	p.reset(r)
	page = page[:0]
	if err := p.expect(jsontext.KindBeginArray); err != nil {
		return page, err
	}
	for p.dec.PeekKind() != jsontext.KindEndArray {
		if p.dec.PeekKind() == jsontext.KindNull {
			if err := p.dec.SkipValue(); err != nil {
				return page, p.wrap(err)
			}
			continue
		}
		if len(page) < cap(page) {
			page = page[:len(page)+1]
		} else {
			page = append(page, Activity{})
		}
		if err := p.decodeActivity(&page[len(page)-1]); err != nil {
			return page[:len(page)-1], err
		}
	}
	if err := p.expect(jsontext.KindEndArray); err != nil {
		return page, err
	}
	// Anything after the array means the body is not what ISC sends.
	if _, err := p.dec.ReadToken(); !errors.Is(err, io.EOF) {
		if err == nil {
			err = errors.New("unexpected data after the array")
		}
		return page, p.wrap(err)
	}
	return page, nil
}

// decodeOne reads a single activity object, as GET .../{id} answers it.
func (p *pageDecoder) decodeOne(r io.Reader) (Activity, error) {
	p.reset(r)
	var a Activity
	if p.dec.PeekKind() != jsontext.KindBeginObject {
		_, err := p.dec.ReadToken()
		if err == nil {
			err = errors.New("expected a JSON object")
		}
		return a, p.wrap(err)
	}
	err := p.decodeActivity(&a)
	return a, err
}

func (p *pageDecoder) decodeActivity(a *Activity) error {
	items := a.Items[:0]
	*a = Activity{}
	if err := p.expect(jsontext.KindBeginObject); err != nil {
		return err
	}
	for p.dec.PeekKind() != jsontext.KindEndObject {
		name, err := p.dec.ReadValue()
		if err != nil {
			return p.wrap(err)
		}
		switch string(name) {
		case `"id"`:
			a.ID, err = p.stringValue(false)
		case `"type"`:
			a.Type, err = p.stringValue(true)
		case `"completionStatus"`:
			a.CompletionStatus, err = p.stringValue(true)
		case `"executionStatus"`:
			a.ExecutionStatus, err = p.stringValue(true)
		case `"created"`:
			a.Created, err = p.timeValue()
		case `"modified"`:
			a.Modified, err = p.timeValue()
		case `"completed"`:
			a.Completed, err = p.timeValue()
		case `"errors"`:
			a.Errors, err = p.countArray()
		case `"warnings"`:
			a.Warnings, err = p.countArray()
		case `"items"`:
			a.Items, err = p.decodeItems(items)
		default:
			err = p.skip()
		}
		if err != nil {
			return err
		}
	}
	return p.expect(jsontext.KindEndObject)
}

func (p *pageDecoder) decodeItems(items []Item) ([]Item, error) {
	switch p.dec.PeekKind() {
	case jsontext.KindBeginArray:
	default:
		// null, or a shape the spec does not allow: no items.
		return nil, p.skip()
	}
	if err := p.expect(jsontext.KindBeginArray); err != nil {
		return nil, err
	}
	items = items[:0]
	for p.dec.PeekKind() != jsontext.KindEndArray {
		if p.dec.PeekKind() != jsontext.KindBeginObject {
			if err := p.skip(); err != nil {
				return nil, err
			}
			continue
		}
		var it Item
		if err := p.expect(jsontext.KindBeginObject); err != nil {
			return nil, err
		}
		for p.dec.PeekKind() != jsontext.KindEndObject {
			name, err := p.dec.ReadValue()
			if err != nil {
				return nil, p.wrap(err)
			}
			switch string(name) {
			case `"provisioningStatus"`:
				it.ProvisioningStatus, err = p.stringValue(true)
			case `"operation"`:
				it.Operation, err = p.stringValue(true)
			case `"sourceId"`:
				it.SourceID, err = p.stringValue(true)
			default:
				err = p.skip()
			}
			if err != nil {
				return nil, err
			}
		}
		if err := p.expect(jsontext.KindEndObject); err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	return items, p.expect(jsontext.KindEndArray)
}

// stringValue reads a string; null or any non-string value reads as "", since
// the spec allows null and a value of the wrong type must not cost the page.
func (p *pageDecoder) stringValue(intern bool) (string, error) {
	if p.dec.PeekKind() != jsontext.KindString {
		return "", p.skip()
	}
	raw, err := p.dec.ReadValue()
	if err != nil {
		return "", p.wrap(err)
	}
	content := raw[1 : len(raw)-1]
	if bytes.IndexByte(content, '\\') >= 0 {
		p.scratch, err = jsontext.AppendUnquote(p.scratch[:0], raw)
		if err != nil {
			return "", p.wrap(err)
		}
		content = p.scratch
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
	if p.dec.PeekKind() != jsontext.KindString {
		return time.Time{}, p.skip()
	}
	raw, err := p.dec.ReadValue()
	if err != nil {
		return time.Time{}, p.wrap(err)
	}
	return parseTimestamp(raw[1 : len(raw)-1]), nil
}

// countArray returns the length of an array of anything; null is empty.
func (p *pageDecoder) countArray() (int, error) {
	if p.dec.PeekKind() != jsontext.KindBeginArray {
		return 0, p.skip()
	}
	if err := p.expect(jsontext.KindBeginArray); err != nil {
		return 0, err
	}
	n := 0
	for p.dec.PeekKind() != jsontext.KindEndArray {
		if err := p.skip(); err != nil {
			return 0, err
		}
		n++
	}
	return n, p.expect(jsontext.KindEndArray)
}

func (p *pageDecoder) skip() error {
	return p.wrap(p.dec.SkipValue())
}

func (p *pageDecoder) expect(k jsontext.Kind) error {
	if got := p.dec.PeekKind(); got != k {
		_, err := p.dec.ReadToken()
		if err == nil {
			err = fmt.Errorf("expected %v, found %v", k, got)
		}
		return p.wrap(err)
	}
	_, err := p.dec.ReadToken()
	return p.wrap(err)
}

func (p *pageDecoder) wrap(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	var de *DecodeError
	if errors.As(err, &de) {
		return err
	}
	return &DecodeError{Offset: p.dec.InputOffset(), Err: err}
}
