// Package layout_test keeps docs/development.md's package table true: every
// package of the module has a row, every row names a package, and every
// import of one of our packages by another is an edge the table allows.
// The allowed edges must form no cycle, so the table reads as layers.
package layout_test

import (
	"bufio"
	"go/build"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/caddy-upstreams/caddy-upstreams"

// root is the repository root, two levels above this package.
var root = filepath.Join("..", "..")

// rule is one row of the table: what a package may import of ours.
type rule struct {
	mayImport map[string]bool
	line      int
}

var backticked = regexp.MustCompile("`([^`]+)`")

// readRules parses the table under "## Packages": the first column names
// the package (`.` for the module root), the last lists the packages it
// may import, each in backticks.
func readRules(t *testing.T) map[string]rule {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "docs", "development.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rules := map[string]rule{}
	in := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in = line == "## Packages"
			continue
		}
		if !in || !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 3 {
			continue
		}
		name := backticked.FindStringSubmatch(cells[0])
		if name == nil {
			continue // header or separator row
		}
		r := rule{mayImport: map[string]bool{}, line: n}
		for _, m := range backticked.FindAllStringSubmatch(cells[len(cells)-1], -1) {
			r.mayImport[m[1]] = true
		}
		if _, dup := rules[name[1]]; dup {
			t.Errorf("docs/development.md:%d: %s has two rows", n, name[1])
		}
		rules[name[1]] = r
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rules) == 0 {
		t.Fatal("docs/development.md has no package table under ## Packages")
	}
	return rules
}

// ourImports returns, for every package of the module (its path relative
// to the module, "." for the root), the packages of ours its non-test
// files import.
func ourImports(t *testing.T) map[string][]string {
	t.Helper()
	pkgs := map[string][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if name := d.Name(); p != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules") {
			return filepath.SkipDir
		}
		pkg, err := build.Default.ImportDir(p, 0)
		if err != nil {
			if _, none := err.(*build.NoGoError); none {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		var ours []string
		for _, imp := range pkg.Imports {
			if imp == module {
				ours = append(ours, ".")
			} else if strings.HasPrefix(imp, module+"/") {
				ours = append(ours, strings.TrimPrefix(imp, module+"/"))
			}
		}
		if len(pkg.GoFiles) > 0 || len(pkg.TestGoFiles)+len(pkg.XTestGoFiles) > 0 {
			pkgs[rel] = ours
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

func TestPackageTableMatchesTheTree(t *testing.T) {
	rules := readRules(t)
	pkgs := ourImports(t)
	for p := range pkgs {
		if _, ok := rules[p]; !ok {
			t.Errorf("package %s has no row in docs/development.md's package table", p)
		}
	}
	for p, r := range rules {
		if _, ok := pkgs[p]; !ok {
			t.Errorf("docs/development.md:%d: %s is not a package of the module", r.line, p)
		}
		for dep := range r.mayImport {
			if _, ok := rules[dep]; !ok {
				t.Errorf("docs/development.md:%d: %s may import %s, which has no row", r.line, p, dep)
			}
		}
	}
	for _, p := range slices.Sorted(maps.Keys(pkgs)) {
		r, ok := rules[p]
		if !ok {
			continue
		}
		for _, dep := range pkgs[p] {
			if !r.mayImport[dep] {
				t.Errorf("%s imports %s, which docs/development.md:%d does not allow", p, dep, r.line)
			}
		}
	}
}

func TestAllowedImportsFormLayers(t *testing.T) {
	rules := readRules(t)
	const (
		visiting = iota + 1 // 0: not seen yet
		done
	)
	state := map[string]int{}
	var visit func(p string, trail []string)
	visit = func(p string, trail []string) {
		switch state[p] {
		case visiting:
			t.Errorf("the allowed imports have a cycle: %s", strings.Join(append(trail, p), " -> "))
			return
		case done:
			return
		}
		state[p] = visiting
		for _, d := range slices.Sorted(maps.Keys(rules[p].mayImport)) {
			visit(d, append(trail, p))
		}
		state[p] = done
	}
	for _, p := range slices.Sorted(maps.Keys(rules)) {
		visit(p, nil)
	}
}
