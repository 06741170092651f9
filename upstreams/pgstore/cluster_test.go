package pgstore_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
	"github.com/caddy-upstreams/caddy-upstreams/internal/testpg"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/pgstore"
)

func TestMain(m *testing.M) { testcaddy.Main(m) }

// nodeConfig is one Caddy node of a cluster: the Kong Admin API on {HTTP},
// and a proxy on {PROXY} to the upstream "u" (and to "h" under /h/), the
// registry in PostgreSQL.
const nodeConfig = `{` + testcaddy.GlobalOptions + `
	upstreams {
		store postgres {DSN} {
			table_prefix {PREFIX}
			resync_interval {RESYNC}
		}
	}
}
http://127.0.0.1:{HTTP} {
	kong_admin
}
http://127.0.0.1:{PROXY} {
	handle /h/* {
		reverse_proxy {
			dynamic registry h
			lb_policy registry
		}
	}
	handle {
		reverse_proxy {
			dynamic registry u
			lb_policy registry
		}
	}
}
`

// node is one Caddy of a cluster, seen from outside: its Admin API and its
// proxy.
type node struct {
	t            *testing.T
	name         string
	admin, proxy string // base URLs
	child        *testcaddy.Process
}

// cluster is two Caddy nodes sharing one registry: A runs in this
// process, B in a child process (Caddy runs one config per process).
type cluster struct {
	a, b   *node
	dsn    string
	prefix string
}

// defaultResync is the nodes' resync_interval unless a test needs resyncs:
// long enough that propagation is the notifications' doing.
const defaultResync = 30 * time.Second

// startCluster starts two nodes on the database dsn, with tables of their
// own (dropped when the test ends) and the given resync_interval.
func startCluster(t *testing.T, dsn string, resync time.Duration) *cluster {
	t.Helper()
	prefix := testpg.UniquePrefix(t)
	pgstore.DropTablesAtEnd(t, dsn, prefix)
	began := time.Now()
	cl := &cluster{a: startNode(t, "A", true, dsn, prefix, resync), b: startNode(t, "B", false, dsn, prefix, resync),
		dsn: dsn, prefix: prefix}
	t.Logf("two nodes up in %v (B is process %d)", time.Since(began).Round(time.Millisecond), cl.b.child.Pid())
	return cl
}

// startNode starts one node on the tables of prefix, in this process or
// in a child process.
func startNode(t *testing.T, name string, inProcess bool, dsn, prefix string, resync time.Duration) *node {
	t.Helper()
	c := testcaddy.New(t)
	proxy := testcaddy.FreePort(t)
	pairs := []string{"{PROXY}", fmt.Sprint(proxy), "{DSN}", dsn, "{PREFIX}", prefix, "{RESYNC}", resync.String()}
	n := &node{t: t, name: name, admin: fmt.Sprintf("http://127.0.0.1:%d", c.HTTPPort),
		proxy: fmt.Sprintf("http://127.0.0.1:%d", proxy)}
	if inProcess {
		c.Load(t, nodeConfig, pairs...)
	} else {
		n.child = c.StartProcess(t, nodeConfig, pairs...)
	}
	return n
}

// call sends an Admin API request with a JSON body (nil: none) and returns
// the status and body. A request that gets no answer fails the test (it
// may run on any goroutine) and returns status 0.
func (n *node) call(method, path string, body any) (int, []byte) {
	n.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			n.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, n.admin+path, rd)
	if err != nil {
		n.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := testcaddy.Client.Do(req)
	if err != nil {
		n.t.Errorf("node %s: %s %s: %v", n.name, method, path, err)
		return 0, nil
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// must sends an Admin API request and fails the test unless it answers want.
func (n *node) must(want int, method, path string, body any) []byte {
	n.t.Helper()
	status, out := n.call(method, path, body)
	if status != want {
		n.t.Fatalf("node %s: %s %s: %d %s, want %d", n.name, method, path, status, out, want)
	}
	return out
}

// get sends one request through the node's proxy and returns the status
// (0 if the request got no answer) and the backend that answered ("" if
// none did).
func (n *node) get(path string) (int, string) {
	resp, err := testcaddy.Client.Get(n.proxy + path)
	if err != nil {
		return 0, ""
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("X-Backend")
}

// targets lists the targets of an upstream through the Admin API, sorted.
func (n *node) targets(upstream string) []string {
	n.t.Helper()
	var page struct {
		Data []struct {
			Target string `json:"target"`
		} `json:"data"`
		Next *string `json:"next"`
	}
	if err := json.Unmarshal(n.must(200, "GET", "/upstreams/"+upstream+"/targets?size=1000", nil), &page); err != nil {
		n.t.Fatal(err)
	}
	if page.Next != nil {
		n.t.Fatalf("node %s: more than 1000 targets in %s", n.name, upstream)
	}
	out := make([]string, len(page.Data))
	for i, d := range page.Data {
		out[i] = d.Target
	}
	sort.Strings(out)
	return out
}
