// Package tenants runs every tenant of the exporter: the configuration file
// that lists them (file.go), the set of running tenants that a reload
// changes without touching the unchanged ones (set.go), and the reload
// itself, on SIGHUP or POST /-/reload, with its two metrics (reload.go).
package tenants

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// File is a configuration file of tenants as written: the settings for
// every tenant, then each tenant. Setting keys are the per-tenant flags'
// names; the caller checks them against its flags.
type File struct {
	Path     string
	Defaults []Setting
	Tenants  []Entry
}

// Setting is one per-tenant setting: a flag's name and its value, with the
// line it is on for the error that refuses it.
type Setting struct {
	Key, Value string
	Line       int
}

// Entry is one tenant of the file.
type Entry struct {
	Name, URL, ClientID string
	// ClientSecretFile or ClientSecretEnv says where the secret is: a file,
	// or an environment variable. Never the secret itself.
	ClientSecretFile, ClientSecretEnv string
	TokenURL, StateFile               string
	Settings                          []Setting
	// Line is where the entry starts; lines holds each field's.
	Line  int
	lines map[string]int
}

// FieldLine is the line of the entry's field (a key of the file), or the
// entry's when it has none.
func (e Entry) FieldLine(field string) int {
	if l, ok := e.lines[field]; ok {
		return l
	}
	return e.Line
}

// Fields of an entry.
const (
	fieldName             = "name"
	fieldURL              = "url"
	fieldClientID         = "client_id"
	fieldClientSecret     = "client_secret"
	fieldClientSecretFile = "client_secret_file"
	fieldClientSecretEnv  = "client_secret_env"
	fieldTokenURL         = "token_url"
	fieldStateFile        = "state_file"
)

// Error is what is wrong with a configuration file: where, and which field.
type Error struct {
	Path  string
	Line  int    // 0: the file as a whole
	Field string // e.g. tenants[1].client_secret; "" for the file as a whole
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Path)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrInvalid is wrapped by every Error.
var ErrInvalid = errors.New("invalid configuration file")

func (e *Error) Unwrap() error { return ErrInvalid }

// NameMaxLength bounds a tenant's name, the value of a label on every
// series.
const NameMaxLength = 63

var namePattern = regexp.MustCompile(`^[a-z0-9-]+$`)

var envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Load reads and parses the configuration file at path.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the configuration file: %w", err)
	}
	return Parse(path, data)
}

// Parse parses a configuration file; path names it in errors. It refuses,
// with the line and the field: what is not YAML, unknown fields, a tenant
// without a name, URL, client id or a place for its secret, a secret
// written in the file, a name that is not a valid label value or is
// repeated, and two tenants sharing a state file.
func Parse(path string, data []byte) (*File, error) {
	p := parser{path: path}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(path, err)
	}
	f := &File{Path: path}
	if len(doc.Content) == 0 {
		return nil, p.fail(nil, "", "the file is empty: it lists the tenants under tenants:, each with name, url, client_id and client_secret_file or client_secret_env")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, p.fail(root, "", "the file must be a mapping with the keys defaults and tenants")
	}
	var tenants *yaml.Node
	err := p.mapping(root, "", func(key string, k, v *yaml.Node) error {
		switch key {
		case "defaults":
			s, err := p.settings(v, "defaults")
			f.Defaults = s
			return err
		case "tenants":
			tenants = v
			return nil
		}
		return p.fail(k, key, "unknown key: the file has defaults and tenants")
	})
	if err != nil {
		return nil, err
	}
	if tenants == nil || tenants.Kind == yaml.ScalarNode && tenants.Tag == "!!null" {
		return nil, p.fail(root, "tenants", "no tenants: list at least one")
	}
	if tenants.Kind != yaml.SequenceNode {
		return nil, p.fail(tenants, "tenants", "must be a list of tenants, each starting with \"- name:\"")
	}
	if len(tenants.Content) == 0 {
		return nil, p.fail(tenants, "tenants", "no tenants: list at least one")
	}
	names, stateFiles := map[string]int{}, map[string]int{}
	for i, node := range tenants.Content {
		e, err := p.entry(node, fmt.Sprintf("tenants[%d]", i))
		if err != nil {
			return nil, err
		}
		if first, ok := names[e.Name]; ok {
			return nil, p.failAt(e.FieldLine(fieldName), fmt.Sprintf("tenants[%d].name", i), fmt.Sprintf("%q is the name of the tenant at line %d too: names must be unique, they tell the tenants' series apart", e.Name, first))
		}
		names[e.Name] = e.Line
		if e.StateFile != "" {
			if first, ok := stateFiles[e.StateFile]; ok {
				return nil, p.failAt(e.FieldLine(fieldStateFile), fmt.Sprintf("tenants[%d].state_file", i), fmt.Sprintf("%s is the state file of the tenant at line %d too: each tenant needs its own", e.StateFile, first))
			}
			stateFiles[e.StateFile] = e.FieldLine(fieldStateFile)
		}
		f.Tenants = append(f.Tenants, e)
	}
	return f, nil
}

// yamlError is the YAML parser's error with its line where it says one.
func yamlError(path string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &Error{Path: path, Msg: "not valid YAML: " + msg}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = "not valid YAML: " + m[2]
	}
	return e
}

var yamlLine = regexp.MustCompile(`^line (\d+): (.*)$`)

type parser struct{ path string }

func (p parser) fail(n *yaml.Node, field, msg string) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return p.failAt(line, field, msg)
}

func (p parser) failAt(line int, field, msg string) error {
	return &Error{Path: p.path, Line: line, Field: field, Msg: msg}
}

// mapping calls each for every key of the mapping n, in order, refusing a
// key given twice.
func (p parser) mapping(n *yaml.Node, field string, each func(key string, k, v *yaml.Node) error) error {
	if n.Kind != yaml.MappingNode {
		return p.fail(n, field, "must be a mapping of keys to values")
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return p.fail(k, field, "keys must be plain names")
		}
		name := join(field, k.Value)
		if first, ok := seen[k.Value]; ok {
			return p.fail(k, name, fmt.Sprintf("given twice (first at line %d)", first))
		}
		seen[k.Value] = k.Line
		if err := each(k.Value, k, v); err != nil {
			return err
		}
	}
	return nil
}

func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

// settings reads a mapping of per-tenant settings: flag names to scalars,
// or to lists of them (joined with commas, as the flag takes them).
func (p parser) settings(n *yaml.Node, field string) ([]Setting, error) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, nil
	}
	var out []Setting
	err := p.mapping(n, field, func(key string, k, v *yaml.Node) error {
		s, err := p.setting(key, k, v, join(field, key))
		out = append(out, s)
		return err
	})
	return out, err
}

func (p parser) setting(key string, k, v *yaml.Node, field string) (Setting, error) {
	s := Setting{Key: key, Line: k.Line}
	if !strings.Contains(key, ".") {
		return s, p.fail(k, field, "unknown setting: settings are the flags' names without the dashes, e.g. activities.refresh-interval: 30s")
	}
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Tag == "!!null" {
			return s, p.fail(v, field, "has no value")
		}
		s.Value = v.Value
	case yaml.SequenceNode:
		var values []string
		for _, item := range v.Content {
			if item.Kind != yaml.ScalarNode {
				return s, p.fail(item, field, "a list of settings holds plain values")
			}
			values = append(values, item.Value)
		}
		s.Value = strings.Join(values, ",")
	default:
		return s, p.fail(v, field, "must be a value, e.g. 30s, 5, true, or a list of values")
	}
	return s, nil
}

func (p parser) entry(n *yaml.Node, field string) (Entry, error) {
	e := Entry{Line: n.Line, lines: map[string]int{}}
	if n.Kind != yaml.MappingNode {
		return e, p.fail(n, field, "each tenant is a mapping that starts with \"- name:\"")
	}
	str := map[string]*string{
		fieldName: &e.Name, fieldURL: &e.URL, fieldClientID: &e.ClientID,
		fieldClientSecretFile: &e.ClientSecretFile, fieldClientSecretEnv: &e.ClientSecretEnv,
		fieldTokenURL: &e.TokenURL, fieldStateFile: &e.StateFile,
	}
	err := p.mapping(n, field, func(key string, k, v *yaml.Node) error {
		name := join(field, key)
		e.lines[key] = k.Line
		if key == fieldClientSecret {
			return p.fail(k, name, "the secret is never written in the configuration file: put it in a file (client_secret_file) or an environment variable (client_secret_env), e.g. from a Kubernetes Secret")
		}
		if dst, ok := str[key]; ok {
			if v.Kind != yaml.ScalarNode || v.Tag == "!!null" || v.Value == "" {
				return p.fail(v, name, "must be a non-empty string")
			}
			*dst = v.Value
			return nil
		}
		if !strings.Contains(key, ".") {
			return p.fail(k, name, "unknown field: a tenant has name, url, client_id, client_secret_file or client_secret_env, token_url, state_file, and per-tenant settings named as the flags are (activities.refresh-interval: 30s)")
		}
		s, err := p.setting(key, k, v, name)
		e.Settings = append(e.Settings, s)
		return err
	})
	if err != nil {
		return e, err
	}
	if e.Name != "" {
		field = fmt.Sprintf("%s (%s)", field, e.Name)
	}
	switch {
	case e.Name == "":
		return e, p.fail(n, field+".name", "missing: each tenant has a name, the value of its tenant label (lower-case letters, digits and -)")
	case len(e.Name) > NameMaxLength || !namePattern.MatchString(e.Name):
		return e, p.failAt(e.FieldLine(fieldName), field+".name", fmt.Sprintf("%q is not a tenant name: at most %d lower-case letters, digits and -, e.g. production", e.Name, NameMaxLength))
	case e.URL == "":
		return e, p.fail(n, field+".url", "missing: the tenant's API URL, e.g. https://acme.api.identitynow.com")
	case e.ClientID == "":
		return e, p.fail(n, field+".client_id", "missing: the client id of the tenant's personal access token or API client")
	case e.ClientSecretFile == "" && e.ClientSecretEnv == "":
		return e, p.fail(n, field, "says nowhere where its client secret is: set client_secret_file (a file) or client_secret_env (the name of an environment variable)")
	case e.ClientSecretFile != "" && e.ClientSecretEnv != "":
		return e, p.failAt(e.FieldLine(fieldClientSecretEnv), field, "sets both client_secret_file and client_secret_env: set one")
	case e.ClientSecretEnv != "" && !envNamePattern.MatchString(e.ClientSecretEnv):
		return e, p.failAt(e.FieldLine(fieldClientSecretEnv), field+".client_secret_env", fmt.Sprintf("%q is not the name of an environment variable, such as SAIL_PRODUCTION_SECRET", e.ClientSecretEnv))
	}
	return e, nil
}

// SecretFrom says where the entry's secret is, for the logs.
func (e Entry) SecretFrom() string {
	if e.ClientSecretFile != "" {
		return "file " + e.ClientSecretFile
	}
	return "environment variable " + e.ClientSecretEnv
}

// Secret reads the entry's client secret; warning is set when its file can
// be read by others than its owner.
func (e Entry) Secret() (secret, warning string, err error) {
	if e.ClientSecretFile != "" {
		return ReadSecretFile(e.ClientSecretFile)
	}
	secret = strings.TrimSpace(os.Getenv(e.ClientSecretEnv))
	if secret == "" {
		return "", "", fmt.Errorf("the environment variable %s, which holds the client secret of tenant %s, is not set or empty", e.ClientSecretEnv, e.Name)
	}
	return secret, "", nil
}

// ReadSecretFile reads a client secret from a file: its content without
// surrounding whitespace (a trailing newline is usual). warning is set when
// the file can be read by others than its owner.
func ReadSecretFile(path string) (secret, warning string, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", "", fmt.Errorf("reading the client secret file: %w", err)
	}
	secret = strings.TrimSpace(string(b))
	if secret == "" {
		return "", "", fmt.Errorf("the client secret file %s is empty", path)
	}
	if info, err := os.Stat(path); err == nil && info.Mode().Perm()&0o077 != 0 {
		warning = fmt.Sprintf("the client secret file %s can be read by others than its owner (mode %v): chmod 600 it", path, info.Mode().Perm())
	}
	return secret, warning, nil
}
