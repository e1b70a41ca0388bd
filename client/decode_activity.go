package client

import (
	"fmt"
	"time"
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
