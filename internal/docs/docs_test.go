package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// root is the repository's root, seen from this package's directory.
const root = "../.."

// maxReadmeLines is the most lines README.md may have: it is the front
// page, the manual is in docs/.
const maxReadmeLines = 250

var (
	// linkRE matches an inline link or image, [text](target) or
	// ![alt](target "title"), and captures the target.
	linkRE = regexp.MustCompile(`!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	// codeSpanRE matches an inline code span, whose brackets are not links.
	codeSpanRE = regexp.MustCompile("`[^`]*`")
	// headingRE matches an ATX heading and captures its text.
	headingRE = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)
	// mdLinkRE reduces a link inside a heading to its text.
	mdLinkRE = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
)

// page is one Markdown file: its path from the repository's root, its
// prose lines (fenced code blocks left out) and its heading anchors.
type page struct {
	path    string
	prose   []string
	anchors map[string]bool
}

// readPage reads the Markdown file at path (relative to the repository's
// root).
func readPage(t *testing.T, path string) *page {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, path))
	if err != nil {
		t.Fatal(err)
	}
	p := &page{path: path, anchors: map[string]bool{}}
	seen := map[string]int{}
	fenced := false
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		p.prose = append(p.prose, line)
		if m := headingRE.FindStringSubmatch(line); m != nil {
			slug := anchor(m[1])
			if n := seen[slug]; n > 0 {
				p.anchors[slug+"-"+strconv.Itoa(n)] = true
			} else {
				p.anchors[slug] = true
			}
			seen[slug]++
		}
	}
	if fenced {
		t.Errorf("%s: a code fence is not closed", path)
	}
	return p
}

// anchor is GitHub's anchor for a heading's text: the text as rendered
// (code spans and links reduced to their text), lowercased, spaces turned
// into '-', and every character but letters, digits, '-' and '_' dropped.
func anchor(heading string) string {
	text := mdLinkRE.ReplaceAllString(heading, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// links returns the targets of the page's inline links and images, outside
// code blocks and code spans.
func (p *page) links() []string {
	var out []string
	for _, line := range p.prose {
		line = codeSpanRE.ReplaceAllString(line, "")
		for _, m := range linkRE.FindAllStringSubmatch(line, -1) {
			out = append(out, m[1])
		}
	}
	return out
}

// docPages returns README.md and every page of docs/, from the
// repository's root.
func docPages(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) == 0 {
		t.Fatal("no page in docs/")
	}
	out := []string{"README.md"}
	for _, p := range pages {
		rel, err := filepath.Rel(root, p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, filepath.ToSlash(rel))
	}
	return out
}

// external reports whether a link target leaves the repository (a URL with
// a scheme, or mail).
func external(target string) bool {
	return strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:")
}

// TestRelativeLinksResolve follows every relative link of README.md and
// docs/*.md: the file it names exists, and its #anchor is a heading of
// that file (or of the page itself for a bare #anchor).
func TestRelativeLinksResolve(t *testing.T) {
	cache := map[string]*page{}
	load := func(path string) *page {
		if cache[path] == nil {
			cache[path] = readPage(t, path)
		}
		return cache[path]
	}
	checked := 0
	for _, path := range docPages(t) {
		for _, target := range load(path).links() {
			if external(target) {
				continue
			}
			checked++
			file, frag, _ := strings.Cut(target, "#")
			dest := path
			if file != "" {
				dest = filepath.ToSlash(filepath.Join(filepath.Dir(path), file))
				if strings.HasPrefix(dest, "../") {
					t.Errorf("%s: link %q leaves the repository", path, target)
					continue
				}
				if _, err := os.Stat(filepath.Join(root, dest)); err != nil {
					t.Errorf("%s: link %q: %v", path, target, err)
					continue
				}
			}
			if frag == "" {
				continue
			}
			if !strings.HasSuffix(dest, ".md") {
				t.Errorf("%s: link %q: an anchor into a file that is not Markdown", path, target)
				continue
			}
			if !load(dest).anchors[frag] {
				t.Errorf("%s: link %q: %s has no heading with anchor #%s", path, target, dest, frag)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no relative link found")
	}
	t.Logf("%d relative links checked", checked)
}

// TestReadmeLinksEveryPage checks that README.md links to every page of
// docs/, so the front page leads to the whole manual.
func TestReadmeLinksEveryPage(t *testing.T) {
	linked := map[string]bool{}
	for _, target := range readPage(t, "README.md").links() {
		file, _, _ := strings.Cut(target, "#")
		linked[filepath.ToSlash(filepath.Clean(file))] = true
	}
	for _, path := range docPages(t)[1:] {
		if !linked[path] {
			t.Errorf("README.md does not link to %s", path)
		}
	}
}

// TestReadmeIsShort keeps README.md within maxReadmeLines lines.
func TestReadmeIsShort(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	n := strings.Count(string(raw), "\n")
	if !strings.HasSuffix(string(raw), "\n") {
		n++
	}
	if n > maxReadmeLines {
		t.Fatalf("README.md has %d lines, at most %d: move the detail to a page of docs/", n, maxReadmeLines)
	}
	t.Logf("README.md: %d lines", n)
}

// TestAnchor pins anchor to GitHub's rules on headings of these pages.
func TestAnchor(t *testing.T) {
	for heading, want := range map[string]string{
		"Routing by Kong routes (kong_proxy)":                              "routing-by-kong-routes-kong_proxy",
		"Deploying on Kubernetes (`deploy/kubernetes/`)":                   "deploying-on-kubernetes-deploykubernetes",
		"Loopback by default; a public listener needs a token or `public`": "loopback-by-default-a-public-listener-needs-a-token-or-public",
		"What it makes (as KIC 3 does)":                                    "what-it-makes-as-kic-3-does",
		"Calling kong_admin instead of the built-in /api/":                 "calling-kong_admin-instead-of-the-built-in-api",
		"See [the page](x.md) here":                                        "see-the-page-here",
	} {
		if got := anchor(heading); got != want {
			t.Errorf("anchor(%q) = %q, want %q", heading, got, want)
		}
	}
}
