package simtenant

import "time"

// msLayout is how ISC renders date-times: UTC, always three fractional
// digits. time.Time's own JSON form drops trailing zeros, which would make
// our oracle easier to parse than the real thing.
const msLayout = "2006-01-02T15:04:05.000Z"

type msTime time.Time

func (t msTime) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(msLayout)+2)
	b = append(b, '"')
	b = time.Time(t).UTC().AppendFormat(b, msLayout)
	return append(b, '"'), nil
}

func msPtr(t *time.Time) *msTime {
	if t == nil {
		return nil
	}
	v := msTime(*t)
	return &v
}

// wireActivity carries every property of the spec's AccountActivity, in the
// spec's order, with no omitempty: ISC sends nulls rather than omitting keys.
type wireActivity struct {
	ID                       string            `json:"id"`
	Name                     string            `json:"name"`
	Created                  msTime            `json:"created"`
	Modified                 *msTime           `json:"modified"`
	Completed                *msTime           `json:"completed"`
	CompletionStatus         *string           `json:"completionStatus"`
	Type                     *string           `json:"type"`
	RequesterIdentitySummary *IdentitySummary  `json:"requesterIdentitySummary"`
	TargetIdentitySummary    *IdentitySummary  `json:"targetIdentitySummary"`
	Errors                   []string          `json:"errors"`
	Warnings                 []string          `json:"warnings"`
	Items                    []wireItem        `json:"items"`
	ExecutionStatus          string            `json:"executionStatus"`
	ClientMetadata           map[string]string `json:"clientMetadata"`
}

// wireBetaActivity is the beta API's CancelableAccountActivity.
type wireBetaActivity struct {
	wireActivity
	Cancelable    bool     `json:"cancelable"`
	CancelComment *Comment `json:"cancelComment"`
}

type wireItem struct {
	ID                      string              `json:"id"`
	Name                    string              `json:"name"`
	Requested               msTime              `json:"requested"`
	ApprovalStatus          *string             `json:"approvalStatus"`
	ProvisioningStatus      string              `json:"provisioningStatus"`
	RequesterComment        *Comment            `json:"requesterComment"`
	ReviewerIdentitySummary *IdentitySummary    `json:"reviewerIdentitySummary"`
	ReviewerComment         *Comment            `json:"reviewerComment"`
	Operation               *string             `json:"operation"`
	Attribute               *string             `json:"attribute"`
	Value                   *string             `json:"value"`
	NativeIdentity          *string             `json:"nativeIdentity"`
	SourceID                string              `json:"sourceId"`
	AccountRequestInfo      *AccountRequestInfo `json:"accountRequestInfo"`
	ClientMetadata          map[string]string   `json:"clientMetadata"`
	RemoveDate              *msTime             `json:"removeDate"`
}

type wireComment struct {
	CommenterID   string `json:"commenterId"`
	CommenterName string `json:"commenterName"`
	Body          string `json:"body"`
	Date          msTime `json:"date"`
}

func toWire(a *Activity) wireActivity {
	w := wireActivity{
		ID:                       a.ID,
		Name:                     a.Name,
		Created:                  msTime(a.Created),
		Modified:                 msPtr(a.Modified),
		Completed:                msPtr(a.Completed),
		CompletionStatus:         a.CompletionStatus,
		Type:                     a.Type,
		RequesterIdentitySummary: a.RequesterIdentitySummary,
		TargetIdentitySummary:    a.TargetIdentitySummary,
		Errors:                   a.Errors,
		Warnings:                 a.Warnings,
		ExecutionStatus:          a.ExecutionStatus,
		ClientMetadata:           a.ClientMetadata,
	}
	if a.Items != nil {
		w.Items = make([]wireItem, len(a.Items))
		for i := range a.Items {
			w.Items[i] = toWireItem(&a.Items[i])
		}
	}
	return w
}

func toWireBeta(a *Activity) wireBetaActivity {
	return wireBetaActivity{toWire(a), a.Cancelable, a.CancelComment}
}

func toWireItem(it *Item) wireItem {
	return wireItem{
		ID:                      it.ID,
		Name:                    it.Name,
		Requested:               msTime(it.Requested),
		ApprovalStatus:          it.ApprovalStatus,
		ProvisioningStatus:      it.ProvisioningStatus,
		RequesterComment:        it.RequesterComment,
		ReviewerIdentitySummary: it.ReviewerIdentitySummary,
		ReviewerComment:         it.ReviewerComment,
		Operation:               it.Operation,
		Attribute:               it.Attribute,
		Value:                   it.Value,
		NativeIdentity:          it.NativeIdentity,
		SourceID:                it.SourceID,
		AccountRequestInfo:      it.AccountRequestInfo,
		ClientMetadata:          it.ClientMetadata,
		RemoveDate:              msPtr(it.RemoveDate),
	}
}
