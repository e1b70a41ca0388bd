package activities

import "github.com/sailpoint-exporter/sailpoint_exporter/label"

// Label names of the activity metrics.
const (
	lType         = "type"
	lCompletion   = "completion_status"
	lExecution    = "execution_status"
	lProvisioning = "provisioning_status"
	lOperation    = "operation"
	lSource       = "source_id"
)

// labelSpace holds the values of every label the activity metrics carry.
// A value keeps its index for the life of the process: the tracked
// activities and the counters store indexes.
type labelSpace struct {
	typ          *label.Values
	completion   *label.Values
	execution    *label.Values
	provisioning *label.Values
	operation    *label.Values
	source       *label.Values
}

func newLabelSpace(maxTypes, maxSources int) labelSpace {
	return labelSpace{
		typ:          label.NewValues(maxTypes),
		completion:   label.NewValues(label.MaxEnumValues),
		execution:    label.NewValues(label.MaxEnumValues),
		provisioning: label.NewValues(label.MaxEnumValues),
		operation:    label.NewValues(label.MaxEnumValues),
		source:       label.NewValues(maxSources),
	}
}

// all returns the tables in a fixed order, the state file's.
func (s *labelSpace) all() []*label.Values {
	return []*label.Values{s.typ, s.completion, s.execution, s.provisioning, s.operation, s.source}
}

// names are the label names of all's tables, in the same order.
var labelNames = [...]string{lType, lCompletion, lExecution, lProvisioning, lOperation, lSource}
