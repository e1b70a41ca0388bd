package main

// No Docker engine runs in CI: these tests read the Dockerfile instead, and hold it to what the
// image promises (a static binary built the way `make build` builds it, a non-root user, one
// writable path) and to the Makefile's build command.

import (
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line int
	cmd  string // upper case: FROM, RUN, COPY, ...
	args string
}

// stage is one FROM and the instructions under it.
type stage struct {
	image, name  string
	instructions []instruction
}

func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.instructions {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// parseDockerfile splits a Dockerfile into stages. It knows comments, line continuations and
// FROM ... AS name, which is all a Dockerfile needs for this.
func parseDockerfile(t *testing.T, text string) []stage {
	t.Helper()
	var stages []stage
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		start := i + 1
		for strings.HasSuffix(line, `\`) && i+1 < len(lines) {
			i++
			next := strings.TrimSpace(lines[i])
			if strings.HasPrefix(next, "#") {
				continue
			}
			line = strings.TrimSuffix(line, `\`) + " " + next
		}
		cmd, args, _ := strings.Cut(line, " ")
		in := instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			s := stage{image: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Fatalf("Dockerfile line %d: %s before the first FROM", start, in.cmd)
			}
			continue
		}
		stages[len(stages)-1].instructions = append(stages[len(stages)-1].instructions, in)
	}
	return stages
}

// shellWords splits a shell command into words the way sh would for these simple commands:
// quotes removed, $(...) kept whole, && and ; as words of their own.
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			flush()
		case c == '\'' || c == '"':
			end := strings.IndexByte(s[i+1:], c)
			if end < 0 {
				t.Fatalf("unbalanced %c in %q", c, s)
			}
			cur.WriteString(s[i+1 : i+1+end])
			inWord = true
			i += end + 1
		case c == '$' && i+1 < len(s) && s[i+1] == '(':
			depth := 0
			j := i + 1
			for ; j < len(s); j++ {
				if s[j] == '(' {
					depth++
				} else if s[j] == ')' {
					depth--
					if depth == 0 {
						break
					}
				}
			}
			cur.WriteString(s[i : j+1])
			inWord = true
			i = j
		case c == '&' && i+1 < len(s) && s[i+1] == '&', c == ';':
			flush()
			if c == ';' {
				words = append(words, ";")
			} else {
				words = append(words, "&&")
				i++
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	flush()
	return words
}

// goBuild is the part of a go build command that must agree between the two files.
type goBuild struct {
	env      []string // VAR=value before the command
	flags    []string // go build's flags, -o and -ldflags excepted
	ldflags  []string // linker flags other than -X
	xVars    []string // the package.Variable names set with -X
	packages []string
}

// parseGoBuild finds `go build` in words and takes it apart.
func parseGoBuild(t *testing.T, words []string) goBuild {
	t.Helper()
	at := -1
	for i := 0; i+1 < len(words); i++ {
		if (words[i] == "go" || strings.HasSuffix(words[i], "/go")) && words[i+1] == "build" {
			at = i
			break
		}
	}
	if at < 0 {
		t.Fatalf("no go build in %q", words)
	}
	var b goBuild
	for i := at - 1; i >= 0 && strings.Contains(words[i], "=") && words[i] != "&&" && words[i] != ";"; i-- {
		b.env = append(b.env, words[i])
	}
	for i := at + 2; i < len(words) && words[i] != "&&" && words[i] != ";"; i++ {
		w := words[i]
		switch {
		case w == "-o":
			i++
		case w == "-ldflags" && i+1 < len(words):
			i++
			b.ldflags, b.xVars = splitLdflags(t, words[i])
		case strings.HasPrefix(w, "-ldflags="):
			b.ldflags, b.xVars = splitLdflags(t, strings.TrimPrefix(w, "-ldflags="))
		case strings.HasPrefix(w, "-"):
			b.flags = append(b.flags, w)
		default:
			b.packages = append(b.packages, w)
		}
	}
	for _, l := range [][]string{b.env, b.flags, b.ldflags, b.xVars, b.packages} {
		slices.Sort(l)
	}
	return b
}

func splitLdflags(t *testing.T, s string) (flags, xVars []string) {
	t.Helper()
	// A command substitution is one value, whatever spaces it holds.
	f := strings.Fields(regexp.MustCompile(`\$\([^()]*\)`).ReplaceAllString(s, "SHELL"))
	for i := 0; i < len(f); i++ {
		if f[i] == "-X" && i+1 < len(f) {
			i++
			name, _, ok := strings.Cut(f[i], "=")
			if !ok {
				t.Fatalf("-X %s sets no value", f[i])
			}
			xVars = append(xVars, name)
			continue
		}
		flags = append(flags, f[i])
	}
	return flags, xVars
}

// makeRecipe returns the recipe of target in the Makefile, its variables expanded; $(shell
// ...) becomes SHELL, since only the shape of the command matters here.
func makeRecipe(t *testing.T, makefile, target string) string {
	t.Helper()
	vars := map[string]string{}
	assign := regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)\s*(\?=|:=|=)\s*(.*)$`)
	lines := strings.Split(makefile, "\n")
	var recipe []string
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		for strings.HasSuffix(line, `\`) && i+1 < len(lines) {
			i++
			line = strings.TrimSuffix(line, `\`) + " " + strings.TrimSpace(lines[i])
		}
		if m := assign.FindStringSubmatch(line); m != nil {
			if _, set := vars[m[1]]; !set || m[2] != "?=" {
				vars[m[1]] = m[3]
			}
			continue
		}
		if strings.HasPrefix(line, target+":") {
			for i+1 < len(lines) && strings.HasPrefix(lines[i+1], "\t") {
				i++
				recipe = append(recipe, strings.TrimPrefix(lines[i], "\t"))
			}
		}
	}
	if len(recipe) == 0 {
		t.Fatalf("no recipe for %s in the Makefile", target)
	}
	ref := regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	shell := regexp.MustCompile(`\$\(shell [^()]*(\([^()]*\)[^()]*)*\)`)
	out := strings.Join(recipe, "\n")
	for range 10 {
		out = shell.ReplaceAllString(out, "SHELL")
		out = ref.ReplaceAllStringFunc(out, func(r string) string {
			name := ref.FindStringSubmatch(r)[1]
			if v, ok := vars[name]; ok {
				return v
			}
			if name == "CURDIR" {
				return "."
			}
			t.Fatalf("Makefile variable %s is not defined", name)
			return ""
		})
	}
	if strings.Contains(out, "$(") {
		t.Fatalf("could not expand the %s recipe: %s", target, out)
	}
	return out
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDockerfileBuildsLikeTheMakefile(t *testing.T) {
	stages := parseDockerfile(t, readFile(t, "Dockerfile"))
	if len(stages) != 2 {
		t.Fatalf("%d stages, want a build stage and the final image", len(stages))
	}
	build := stages[0]
	var runs []string
	for _, in := range build.all("RUN") {
		if strings.Contains(in.args, "go build") {
			runs = append(runs, in.args)
		}
	}
	if len(runs) != 1 {
		t.Fatalf("%d RUN instructions with go build in the build stage, want 1", len(runs))
	}
	docker := parseGoBuild(t, shellWords(t, runs[0]))
	mk := parseGoBuild(t, shellWords(t, makeRecipe(t, readFile(t, "Makefile"), "build")))
	t.Logf("Makefile: %+v", mk)
	t.Logf("Dockerfile: %+v", docker)
	for _, c := range []struct {
		what         string
		docker, make []string
	}{
		{"environment", docker.env, mk.env},
		{"go build flags", docker.flags, mk.flags},
		{"linker flags", docker.ldflags, mk.ldflags},
		{"variables set with -X", docker.xVars, mk.xVars},
		{"packages", docker.packages, mk.packages},
	} {
		if !slices.Equal(c.docker, c.make) {
			t.Errorf("%s: Dockerfile %q, Makefile %q", c.what, c.docker, c.make)
		}
	}
	// What both must say, so that agreeing on nothing does not pass.
	if !slices.Contains(mk.env, "CGO_ENABLED=0") {
		t.Error("the build is not static: no CGO_ENABLED=0")
	}
	if !slices.Contains(mk.flags, "-trimpath") {
		t.Error("no -trimpath")
	}
	for _, v := range []string{"Version", "Revision", "Branch", "BuildUser", "BuildDate"} {
		if !slices.Contains(mk.xVars, "github.com/prometheus/common/version."+v) {
			t.Errorf("-X github.com/prometheus/common/version.%s is not set", v)
		}
	}

	// The Go of the build stage is the go.mod's.
	goMod := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(readFile(t, "go.mod"))
	if goMod == nil || !strings.HasPrefix(build.image, "golang:"+goMod[1]) {
		t.Errorf("build stage FROM %s, go.mod says go %v", build.image, goMod)
	}
}

func TestDockerfileImage(t *testing.T) {
	stages := parseDockerfile(t, readFile(t, "Dockerfile"))
	if len(stages) < 2 || stages[0].name == "" {
		t.Fatal("want a named build stage and a final stage")
	}
	final := stages[len(stages)-1]
	if !strings.HasPrefix(final.image, "gcr.io/distroless/static") || !strings.HasSuffix(final.image, ":nonroot") {
		t.Errorf("final stage FROM %s, want distroless static, nonroot", final.image)
	}

	users := final.all("USER")
	if len(users) != 1 {
		t.Fatalf("%d USER instructions in the final stage, want 1", len(users))
	}
	uid, gid, _ := strings.Cut(users[0].args, ":")
	u, err := strconv.Atoi(uid)
	if err != nil || u == 0 {
		t.Errorf("USER %s: want a numeric, non-zero uid (Kubernetes' runAsNonRoot cannot check a name)", users[0].args)
	}
	if _, err := strconv.Atoi(gid); err != nil {
		t.Errorf("USER %s: want a numeric gid", users[0].args)
	}

	entry := final.all("ENTRYPOINT")
	if len(entry) != 1 || entry[0].args != `["/bin/sailpoint_exporter"]` {
		t.Errorf("ENTRYPOINT %+v, want the binary in exec form", entry)
	}
	var copiedBinary bool
	for _, in := range final.all("COPY") {
		if strings.Contains(in.args, "--from="+stages[0].name) && strings.HasSuffix(in.args, " /bin/sailpoint_exporter") {
			copiedBinary = true
		}
	}
	if !copiedBinary {
		t.Error("the binary is not copied from the build stage to /bin/sailpoint_exporter")
	}
	if ex := final.all("EXPOSE"); len(ex) != 1 || ex[0].args != "19885" {
		t.Errorf("EXPOSE %+v, want 19885", ex)
	}

	// The one writable path: the state file's directory, a volume owned by USER.
	var stateFile string
	for _, in := range final.all("ENV") {
		if v, ok := strings.CutPrefix(in.args, "SAIL_STATE_FILE="); ok {
			stateFile = v
		}
		if strings.Contains(strings.ToUpper(in.args), "SECRET") {
			t.Errorf("ENV %s: the image must carry no secret setting; the secret is a mounted file", in.args)
		}
	}
	if stateFile == "" {
		t.Fatal("no ENV SAIL_STATE_FILE: where does the checkpoint go?")
	}
	dir := path.Dir(stateFile)
	volumes := final.all("VOLUME")
	if len(volumes) != 1 || volumes[0].args != `["`+dir+`"]` {
		t.Errorf("VOLUME %+v, want exactly the state directory %s", volumes, dir)
	}
	var owned bool
	for _, in := range final.all("COPY") {
		if strings.Contains(in.args, "--chown="+users[0].args) && strings.HasSuffix(in.args, " "+dir) {
			owned = true
		}
	}
	if !owned {
		t.Errorf("%s is not created owned by %s: the exporter could not write its checkpoint there", dir, users[0].args)
	}
}

func TestDockerignore(t *testing.T) {
	var patterns []string
	for _, l := range strings.Split(readFile(t, ".dockerignore"), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, strings.TrimPrefix(l, "/"))
		}
	}
	// The history and the 72 MB linter stay out of the build context, and so does a binary
	// built by make, which COPY . . would otherwise put next to the sources.
	for _, want := range []string{".git", ".bin", "sailpoint_exporter"} {
		if !slices.Contains(patterns, want) {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
	// What the build needs must stay in.
	for _, need := range []string{"go.mod", "go.sum", "*.go", "client", "collector", "internal"} {
		if slices.Contains(patterns, need) {
			t.Errorf(".dockerignore excludes %s, which go build needs", need)
		}
	}
}
