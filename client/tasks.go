package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// TaskStatusScope is the scope the spec lists for GET /task-status: a token
// needs it (or sp:scopes:all for an owner of a user level that may read
// task status) to list the aggregations.
const TaskStatusScope = "idn:task-management:read"

// RejectMissingTarget: a task without a target names no source.
const RejectMissingTarget = "missing_target"

// Task is the part of ISC's TaskStatus schema that the exporter uses, as ISC
// said it: strings verbatim, a null or absent string "", a null timestamp
// the zero time. Its definition type (CLOUD_ACCOUNT_AGGREGATION, …) is not
// in the answer (the answer's type is the scheduler's kind): a caller knows
// it from the filter it asked with.
type Task struct {
	ID               string
	CompletionStatus string // "" while it runs
	Created          time.Time
	Launched         time.Time
	Completed        time.Time
	Modified         time.Time
	// SourceID is the id of the task's target, the source for an
	// aggregation (an APPLICATION target); TargetName is ISC's name of it,
	// like "Active Directory [source]".
	SourceID   string
	TargetName string
	// Messages are the task's messages of type ERROR and WARN, the first few
	// and each cut short: they say why an aggregation failed.
	Messages []TaskMessage
}

// TaskMessage is one message of a task.
type TaskMessage struct {
	Type string // ERROR or WARN
	Text string
}

// Bounds of what is kept of a task's messages.
const (
	maxTaskMessages    = 3
	maxTaskMessageText = 512
)

// TaskQuery selects tasks. Type is required: the answer does not say it.
type TaskQuery struct {
	Type string // the task definition type, e.g. CLOUD_ACCOUNT_AGGREGATION; "" for any (IDs only)
	// Running selects tasks without a completion status yet.
	Running bool
	// IDs selects these tasks only (id in (...)).
	IDs []string
}

// TaskPage is one page of a task listing, newest first.
type TaskPage struct {
	Tasks []Task
	// Rejected are the page's elements that are not tasks the exporter can
	// use, each with the reason; their neighbours are in Tasks.
	Rejected []Rejection
	Offset   int // of the page's first element
}

// TaskPageFunc receives each page; it returns whether to read the next.
type TaskPageFunc func(p TaskPage) (more bool, err error)

// maxTaskIDsPerRequest bounds an id filter: a URL of 50 ids of 32 digits
// stays under 2.5 KB.
const maxTaskIDsPerRequest = 50

// ListTasks reads task statuses matching q, newest created first, a page at
// a time with limit and offset, handing each to fn until fn says stop or a
// page comes back short. The list is sorted by created, the only field ISC
// sorts it by; a task created while paging shifts the rest one place later,
// so a task may be delivered twice (callers de-duplicate by id), never
// skipped. An element that is not a task the exporter can use is rejected
// on its own; an answer that does not decode the same way twice is narrowed
// to the one element that breaks it, which is rejected.
func (c *Client) ListTasks(ctx context.Context, q TaskQuery, fn TaskPageFunc) error {
	if len(q.IDs) > maxTaskIDsPerRequest {
		for start := 0; start < len(q.IDs); start += maxTaskIDsPerRequest {
			part := q
			part.IDs = q.IDs[start:min(start+maxTaskIDsPerRequest, len(q.IDs))]
			stop := false
			err := c.ListTasks(ctx, part, func(p TaskPage) (bool, error) {
				more, err := fn(p)
				stop = !more
				return more, err
			})
			if err != nil || stop {
				return err
			}
		}
		return nil
	}
	offset := 0
	var narrow narrowing
	for pages := 0; ; pages++ {
		if pages == maxListPages {
			return fmt.Errorf("list task status: more than %d pages; ISC may ignore offset", maxListPages)
		}
		limit := narrow.limit(c.cfg.PageSize)
		page, elements, err := c.taskPage(ctx, q, offset, limit)
		var repeated *repeatedDecodeError
		switch {
		case errors.As(err, &repeated):
			if !narrow.failed(limit, repeated.DecodeError) {
				return err
			}
			if limit > 1 {
				c.logger.Debug("an answer of ISC's task status does not decode; asking for fewer tasks to find the record", "offset", offset, "limit", narrow.next, "err", err)
				continue
			}
			page = TaskPage{Offset: offset, Rejected: []Rejection{taskRejection(RejectMalformed, repeated.Hash, "", repeated.Error())}}
			elements = 1
		case err != nil:
			return err
		default:
			narrow.succeeded(limit)
		}
		more, err := fn(page)
		if err != nil || !more {
			return err
		}
		if elements < limit && narrow.next == 0 {
			return nil
		}
		offset += elements
	}
}

// taskPage reads the page of at most limit tasks at offset.
func (c *Client) taskPage(ctx context.Context, q TaskQuery, offset, limit int) (TaskPage, int, error) {
	u := c.endpointURL(EndpointTaskStatus)
	u.RawQuery = taskQuery(q, offset, limit)
	page := TaskPage{Offset: offset}
	elements := 0
	err := c.call(ctx, EndpointTaskStatus, u, func(body io.Reader, _ int64, _ http.Header) error {
		page.Tasks, page.Rejected, elements = page.Tasks[:0], page.Rejected[:0], 0
		raw, err := io.ReadAll(io.LimitReader(body, maxListPageBody+1))
		if err != nil {
			return err
		}
		if len(raw) > maxListPageBody {
			sum := sha256.Sum256(raw)
			return &DecodeError{Element: -1, Reason: RejectTooLarge, Complete: true, Hash: hex.EncodeToString(sum[:]),
				Err: fmt.Errorf("answer larger than %d bytes", maxListPageBody)}
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			sum := sha256.Sum256(raw)
			return &DecodeError{Element: -1, Reason: RejectMalformed, Complete: true, Hash: hex.EncodeToString(sum[:]), Err: err}
		}
		elements = len(elems)
		for _, el := range elems {
			t, rej, ok := decodeTask(el)
			if ok {
				page.Tasks = append(page.Tasks, t)
			} else {
				page.Rejected = append(page.Rejected, rej)
			}
		}
		return nil
	})
	if err != nil {
		return TaskPage{}, 0, fmt.Errorf("list task status (%s) at offset %d: %w", describeTaskQuery(q), offset, err)
	}
	return page, elements, nil
}

func describeTaskQuery(q TaskQuery) string {
	var parts []string
	if q.Type != "" {
		parts = append(parts, q.Type)
	}
	if q.Running {
		parts = append(parts, "running")
	}
	if len(q.IDs) > 0 {
		parts = append(parts, strconv.Itoa(len(q.IDs))+" ids")
	}
	return strings.Join(parts, ", ")
}

// taskQuery encodes spaces as %20, as ISC's documentation asks.
func taskQuery(q TaskQuery, offset, limit int) string {
	var clauses []string
	if q.Type != "" {
		clauses = append(clauses, "type eq "+quoteFilter(q.Type))
	}
	if q.Running {
		clauses = append(clauses, "completionStatus isnull")
	}
	if len(q.IDs) > 0 {
		quoted := make([]string, len(q.IDs))
		for i, id := range q.IDs {
			quoted[i] = quoteFilter(id)
		}
		clauses = append(clauses, "id in ("+strings.Join(quoted, ",")+")")
	}
	params := []struct{ k, v string }{
		{"limit", strconv.Itoa(limit)},
		{"offset", strconv.Itoa(offset)},
	}
	if len(clauses) > 0 {
		params = append(params, struct{ k, v string }{"filters", strings.Join(clauses, " and ")})
	}
	params = append(params, struct{ k, v string }{"sorters", "-created"})
	var b strings.Builder
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(strings.ReplaceAll(url.QueryEscape(p.v), "+", "%20"))
	}
	return b.String()
}

// quoteFilter quotes a string value of ISC's filter language.
func quoteFilter(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// wireTask names the only fields decoded; everything else of a TaskStatus
// (returns, attributes but sourceId, progress) is skipped without keeping it.
type wireTask struct {
	ID               *string          `json:"id"`
	CompletionStatus *string          `json:"completionStatus"`
	Created          *json.RawMessage `json:"created"`
	Launched         *json.RawMessage `json:"launched"`
	Completed        *json.RawMessage `json:"completed"`
	Modified         *json.RawMessage `json:"modified"`
	Target           *struct {
		ID   *string `json:"id"`
		Type *string `json:"type"`
		Name *string `json:"name"`
	} `json:"target"`
	Attributes *struct {
		SourceID *string `json:"sourceId"`
	} `json:"attributes"`
	Messages []*struct {
		Type          *string `json:"type"`
		LocalizedText *struct {
			Message *string `json:"message"`
		} `json:"localizedText"`
	} `json:"messages"`
}

func derefString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// decodeTask reads one element of a task list; ok is false with the reason
// when it is not a task the exporter can use.
func decodeTask(el json.RawMessage) (Task, Rejection, bool) {
	var w wireTask
	if err := json.Unmarshal(el, &w); err != nil {
		var ute *json.UnmarshalTypeError
		reason := RejectMalformed
		if errors.As(err, &ute) {
			reason = RejectWrongType
		}
		return Task{}, taskRejection(reason, hashOf(el), idNearJSON(el), err.Error()), false
	}
	id := derefString(w.ID)
	if id == "" {
		return Task{}, taskRejection(RejectMissingID, hashOf(el), "", "the task has no id"), false
	}
	t := Task{ID: id, CompletionStatus: derefString(w.CompletionStatus)}
	for _, f := range []struct {
		name string
		raw  *json.RawMessage
		dst  *time.Time
	}{{"created", w.Created, &t.Created}, {"launched", w.Launched, &t.Launched}, {"completed", w.Completed, &t.Completed}, {"modified", w.Modified, &t.Modified}} {
		v, err := taskTime(f.raw)
		if err != nil {
			return Task{}, taskRejection(RejectInvalidTimestamp, "id:"+id, id, f.name+": "+err.Error()), false
		}
		*f.dst = v
	}
	if t.Created.IsZero() {
		return Task{}, taskRejection(RejectInvalidTimestamp, "id:"+id, id, "created: missing"), false
	}
	if w.Target == nil || derefString(w.Target.ID) == "" {
		return Task{}, taskRejection(RejectMissingTarget, "id:"+id, id, "the task has no target: no source to report it under"), false
	}
	t.SourceID, t.TargetName = derefString(w.Target.ID), derefString(w.Target.Name)
	for _, m := range w.Messages {
		if m == nil || len(t.Messages) == maxTaskMessages {
			continue
		}
		typ := derefString(m.Type)
		if typ != "ERROR" && typ != "WARN" || m.LocalizedText == nil {
			continue
		}
		text := derefString(m.LocalizedText.Message)
		if len(text) > maxTaskMessageText {
			text = strings.ToValidUTF8(text[:maxTaskMessageText], "") + "…"
		}
		t.Messages = append(t.Messages, TaskMessage{Type: typ, Text: text})
	}
	return t, Rejection{}, true
}

// taskTime reads a nullable date-time: null or absent is the zero time,
// anything but an RFC 3339 string is an error.
func taskTime(raw *json.RawMessage) (time.Time, error) {
	if raw == nil || string(*raw) == "null" {
		return time.Time{}, nil
	}
	var s string
	if err := json.Unmarshal(*raw, &s); err != nil {
		return time.Time{}, fmt.Errorf("not a string: %s", truncate(string(*raw), 40))
	}
	if t, ok := parseUTCMillis([]byte(s)); ok {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("not an RFC 3339 date-time: %q", truncate(s, 40))
	}
	return t, nil
}

func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:16])
}

// idNearJSON reads the id of an element that does not decode as a task,
// where it is a string.
func idNearJSON(el json.RawMessage) string {
	var v struct {
		ID any `json:"id"`
	}
	if json.Unmarshal(bytes.TrimSpace(el), &v) == nil {
		if s, ok := v.ID.(string); ok {
			return s
		}
	}
	return ""
}

func taskRejection(reason, key, id, detail string) Rejection {
	if key == "" {
		key = "sha256:unknown"
	}
	if id != "" && !strings.HasPrefix(key, "id:") {
		key = "id:" + id + "|" + key
	}
	return Rejection{Reason: reason, ID: id, Key: "task|" + key, Detail: detail}
}
