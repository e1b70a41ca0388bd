// Package contract reads the metric contract as README.md states it, in its
// table under "## Metrics", so that tests can hold the collector (which must
// export exactly that) and the dashboards (which may only use that) to one
// written contract.
package contract

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Metric is one row of the table.
type Metric struct {
	Name   string
	Type   string   // counter, gauge or histogram
	Labels []string // in the order the README lists them
	// Partial is set when the README lists only some labels ("…").
	Partial bool
}

var (
	row  = regexp.MustCompile("^\\| `([a-z_:]+)` \\| (counter|gauge|histogram) \\|([^|]*)\\|")
	code = regexp.MustCompile("`([a-z_]+)`")
)

// FromREADME returns the rows of the metrics table of the README at path.
func FromREADME(path string) ([]Metric, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	var out []Metric
	inSection := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			inSection = line == "## Metrics"
			continue
		}
		if !inSection {
			continue
		}
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		metric := Metric{Name: m[1], Type: m[2], Partial: strings.Contains(m[3], "…")}
		for _, l := range code.FindAllStringSubmatch(m[3], -1) {
			metric.Labels = append(metric.Labels, l[1])
		}
		out = append(out, metric)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no metrics table under \"## Metrics\"", path)
	}
	return out, nil
}
