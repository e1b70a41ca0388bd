package deploytest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// documentedKey is a key of values.yaml with the comment that explains it.
type documentedKey struct {
	path      string
	commented bool // the comment is right above this key
	parent    bool // its value is a map of further keys
}

var keyLine = regexp.MustCompile(`^(\s*)([A-Za-z_][A-Za-z0-9_]*):(.*)$`)

// valuesKeys reads values.yaml's keys with their dotted paths and comments.
func valuesKeys(t *testing.T) []documentedKey {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(chartDir(t), "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	type level struct {
		indent    int
		key       string
		commented bool
	}
	var stack []level
	var out []documentedKey
	for i, line := range lines {
		m := keyLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		indent := len(m[1])
		for len(stack) > 0 && stack[len(stack)-1].indent >= indent {
			stack = stack[:len(stack)-1]
		}
		prev := ""
		for j := i - 1; j >= 0; j-- {
			if strings.TrimSpace(lines[j]) != "" {
				prev = strings.TrimSpace(lines[j])
				break
			}
		}
		commented := strings.HasPrefix(prev, "#")
		var path []string
		for _, l := range stack {
			path = append(path, l.key)
		}
		path = append(path, m[2])
		inherited := commented
		for _, l := range stack {
			inherited = inherited || l.commented
		}
		parent := false
		rest := strings.TrimSpace(m[3])
		if rest == "" {
			for j := i + 1; j < len(lines); j++ {
				next := lines[j]
				if strings.TrimSpace(next) == "" || strings.HasPrefix(strings.TrimSpace(next), "#") {
					continue
				}
				n := keyLine.FindStringSubmatch(next)
				parent = n != nil && len(n[1]) > indent
				break
			}
		}
		out = append(out, documentedKey{path: strings.Join(path, "."), commented: commented, parent: parent})
		if !parent && !inherited {
			t.Errorf("values.yaml line %d: %s has no comment (nor has any key above it)", i+1, strings.Join(path, "."))
		}
		stack = append(stack, level{indent: indent, key: m[2], commented: inherited})
	}
	if len(out) < 40 {
		t.Fatalf("read only %d keys from values.yaml", len(out))
	}
	return out
}

// TestValuesDocumented: every key of values.yaml is commented there and listed in the chart's
// README.md.
func TestValuesDocumented(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(chartDir(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, k := range valuesKeys(t) {
		if k.parent || !k.commented {
			continue
		}
		n++
		if !strings.Contains(string(readme), "`"+k.path+"`") {
			t.Errorf("README.md does not list the value `%s`", k.path)
		}
	}
	t.Logf("%d documented values, each listed in README.md", n)
}
