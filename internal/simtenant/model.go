package simtenant

import (
	"encoding/json"
	"maps"
	"time"
)

// Enum values as ISC spells them. COMMITED really has one T in the spec;
// a client that "fixes" the spelling would silently miss those items.
const (
	ExecExecuting  = "EXECUTING"
	ExecVerifying  = "VERIFYING"
	ExecTerminated = "TERMINATED"
	ExecCompleted  = "COMPLETED"

	CompletionSuccess    = "SUCCESS"
	CompletionFailure    = "FAILURE"
	CompletionIncomplete = "INCOMPLETE"
	CompletionPending    = "PENDING"

	ProvPending      = "PENDING"
	ProvFinished     = "FINISHED"
	ProvUnverifiable = "UNVERIFIABLE"
	ProvCommited     = "COMMITED"
	ProvFailed       = "FAILED"
	ProvRetry        = "RETRY"
)

// Activity is one account activity. Fields the spec marks nullable are
// pointers (or nil-able slices and maps) so that tests can script the JSON
// nulls a real tenant sends; a nil slice marshals as null, an empty one as [].
type Activity struct {
	ID                       string
	Name                     string
	Created                  time.Time // the zero time is treated as null by filters and sorters
	Modified                 *time.Time
	Completed                *time.Time
	CompletionStatus         *string
	Type                     *string
	RequesterIdentitySummary *IdentitySummary
	TargetIdentitySummary    *IdentitySummary
	Errors                   []string
	Warnings                 []string
	Items                    []Item
	ExecutionStatus          string
	ClientMetadata           map[string]string

	// Only the beta API (CancelableAccountActivity) serialises these two.
	Cancelable    bool
	CancelComment *Comment
}

// Item is one AccountActivityItem.
type Item struct {
	ID                      string
	Name                    string
	Requested               time.Time
	ApprovalStatus          *string
	ProvisioningStatus      string
	RequesterComment        *Comment
	ReviewerIdentitySummary *IdentitySummary
	ReviewerComment         *Comment
	Operation               *string
	Attribute               *string
	Value                   *string
	NativeIdentity          *string
	SourceID                string
	AccountRequestInfo      *AccountRequestInfo
	ClientMetadata          map[string]string
	RemoveDate              *time.Time
}

// IdentitySummary mirrors the spec's IdentitySummary; ID is the summary's own
// id, IdentityID the identity it stands for.
type IdentitySummary struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	IdentityID string `json:"identityId"`
	Completed  bool   `json:"completed"`
}

// Comment mirrors the spec's Comment.
type Comment struct {
	CommenterID   string
	CommenterName string
	Body          string
	Date          time.Time
}

// AccountRequestInfo mirrors the spec's AccountRequestInfo.
type AccountRequestInfo struct {
	RequestedObjectID   string `json:"requestedObjectId"`
	RequestedObjectName string `json:"requestedObjectName"`
	RequestedObjectType string `json:"requestedObjectType"`
}

// Ptr exists because most nullable fields are pointers and scripted
// histories in tests would otherwise need a temporary per field.
func Ptr[T any](v T) *T { return &v }

// Clone returns a deep copy. The tenant stores activities as immutable
// snapshots, so a list page can be marshalled outside the lock while the
// simulator keeps changing the data set.
func (a Activity) Clone() Activity {
	c := a
	c.Modified = clonePtr(a.Modified)
	c.Completed = clonePtr(a.Completed)
	c.CompletionStatus = clonePtr(a.CompletionStatus)
	c.Type = clonePtr(a.Type)
	c.RequesterIdentitySummary = clonePtr(a.RequesterIdentitySummary)
	c.TargetIdentitySummary = clonePtr(a.TargetIdentitySummary)
	c.Errors = cloneSlice(a.Errors)
	c.Warnings = cloneSlice(a.Warnings)
	c.ClientMetadata = cloneMap(a.ClientMetadata)
	c.CancelComment = clonePtr(a.CancelComment)
	if a.Items != nil {
		c.Items = make([]Item, len(a.Items))
		for i, it := range a.Items {
			c.Items[i] = it.clone()
		}
	}
	return c
}

func (it Item) clone() Item {
	c := it
	c.ApprovalStatus = clonePtr(it.ApprovalStatus)
	c.RequesterComment = clonePtr(it.RequesterComment)
	c.ReviewerIdentitySummary = clonePtr(it.ReviewerIdentitySummary)
	c.ReviewerComment = clonePtr(it.ReviewerComment)
	c.Operation = clonePtr(it.Operation)
	c.Attribute = clonePtr(it.Attribute)
	c.Value = clonePtr(it.Value)
	c.NativeIdentity = clonePtr(it.NativeIdentity)
	c.AccountRequestInfo = clonePtr(it.AccountRequestInfo)
	c.ClientMetadata = cloneMap(it.ClientMetadata)
	c.RemoveDate = clonePtr(it.RemoveDate)
	return c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func cloneSlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	return maps.Clone(m)
}

// IsTerminal is the one definition of "finished" shared by the simulator,
// the Observer and so the ground truth, so they can never disagree: a
// completed timestamp, or executionStatus COMPLETED or TERMINATED.
func (a *Activity) IsTerminal() bool {
	return a.Completed != nil || a.ExecutionStatus == ExecCompleted || a.ExecutionStatus == ExecTerminated
}

// CompletionTime is when a terminal activity finished: completed, falling
// back to modified because TERMINATED activities may carry no completed
// timestamp at all, then created.
func (a *Activity) CompletionTime() time.Time {
	if a.Completed != nil {
		return *a.Completed
	}
	if a.Modified != nil {
		return *a.Modified
	}
	return a.Created
}

// MarshalJSON renders the v3 AccountActivity shape.
func (a Activity) MarshalJSON() ([]byte, error) {
	return json.Marshal(toWire(&a))
}

// MarshalJSON renders the spec's Comment shape.
func (c Comment) MarshalJSON() ([]byte, error) {
	return json.Marshal(wireComment{c.CommenterID, c.CommenterName, c.Body, msTime(c.Date)})
}
