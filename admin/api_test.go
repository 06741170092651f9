package admin_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"golang.org/x/crypto/bcrypt"

	"github.com/caddy-upstreams/caddy-upstreams/admin"
	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
)

func TestBodyEncodingsRoundTrip(t *testing.T) {
	e := start(t)
	form := url.Values{
		"name": {"form-up"}, "tags[]": {"a", "b"}, "slots": {"100"}, "hash_on_header": {""},
		"healthchecks.active.http_path":                {"/ping"},
		"healthchecks.active.healthy.interval":         {"5"},
		"healthchecks.active.https_verify_certificate": {"false"},
		"healthchecks.active.healthy.http_statuses[1]": {"200"},
		"healthchecks.active.healthy.http_statuses[2]": {"204"},
	}
	status, body, _ := e.do("POST", "/upstreams", []byte(form.Encode()), "application/x-www-form-urlencoded")
	if status != 201 {
		t.Fatalf("form POST: %d %s", status, body)
	}
	var u map[string]any
	json.Unmarshal(body, &u)
	hc := u["healthchecks"].(map[string]any)["active"].(map[string]any)
	if u["slots"] != 100.0 || fmt.Sprint(u["tags"]) != "[a b]" || hc["http_path"] != "/ping" || hc["https_verify_certificate"] != false ||
		fmt.Sprint(hc["healthy"].(map[string]any)["http_statuses"]) != "[200 204]" || hc["healthy"].(map[string]any)["interval"] != 5.0 {
		t.Fatalf("form body decoded as %s", body)
	}

	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("target", "10.1.1.1:80")
	mw.WriteField("weight", "7")
	mw.WriteField("tags[1]", "m")
	mw.Close()
	status, body, _ = e.do("POST", "/upstreams/form-up/targets", buf.Bytes(), mw.FormDataContentType())
	if status != 201 {
		t.Fatalf("multipart POST: %d %s", status, body)
	}
	e.expect("GET", "/upstreams/form-up/targets/10.1.1.1:80", nil, 200,
		`{"id":"<id>","created_at":0,"updated_at":0,"upstream":{"id":"<id>"},"target":"10.1.1.1:80","weight":7,"tags":["m"]}`)

	// form errors are Kong's too: a non-numeric integer
	status, body, _ = e.do("POST", "/upstreams", []byte("name=x&slots=many"), "application/x-www-form-urlencoded")
	if status != 400 || !bytes.Contains(body, []byte(`"slots":"expected an integer"`)) {
		t.Fatalf("form with bad slots: %d %s", status, body)
	}
}

func TestPaginationOver2500Targets(t *testing.T) {
	e := start(t)
	e.do("POST", "/upstreams", `{"name":"big"}`)
	for i := 0; i < 2500; i++ {
		if status, body, _ := e.do("POST", "/upstreams/big/targets", fmt.Sprintf(`{"target":"10.0.%d.%d:80"}`, i/250, i%250)); status != 201 {
			t.Fatalf("target %d: %d %s", i, status, body)
		}
	}
	for _, path := range []string{"/upstreams/big/targets?size=1000", "/upstreams/big/targets/all?size=333", "/upstreams/big/health"} {
		seen := map[string]bool{}
		next, pages := path, 0
		for next != "" && pages < 100 {
			status, body, _ := e.do("GET", next, nil)
			if status != 200 {
				t.Fatalf("GET %s: %d %s", next, status, body)
			}
			var page struct {
				Data []struct{ ID, Target string }
				Next *string
			}
			json.Unmarshal(body, &page)
			for _, d := range page.Data {
				if seen[d.ID] {
					t.Fatalf("%s: target %s served twice", path, d.Target)
				}
				seen[d.ID] = true
			}
			next = ""
			if page.Next != nil {
				next = *page.Next
			}
			pages++
		}
		if len(seen) != 2500 {
			t.Fatalf("%s: %d targets over %d pages, want 2500", path, len(seen), pages)
		}
	}
	// newest first on the Kong target list
	_, body, _ := e.do("GET", "/upstreams/big/targets?size=1", nil)
	if !bytes.Contains(body, []byte(`"target":"10.0.9.249:80"`)) || !bytes.Contains(body, []byte(`"next":"/upstreams/big/targets?offset=1"`)) {
		t.Fatalf("first page: %s", body)
	}
}

func TestUpstreamListTagsAndOffsets(t *testing.T) {
	e := start(t)
	for i := 0; i < 7; i++ {
		tags := `["all"]`
		if i%2 == 0 {
			tags = `["all","even"]`
		}
		e.do("POST", "/upstreams", fmt.Sprintf(`{"name":"u%d","tags":%s}`, i, tags))
	}
	count := func(path string) (int, []string) {
		var names []string
		next := path
		for next != "" {
			_, body, _ := e.do("GET", next, nil)
			var page struct {
				Data []struct{ Name string }
				Next *string
			}
			json.Unmarshal(body, &page)
			for _, d := range page.Data {
				names = append(names, d.Name)
			}
			next = ""
			if page.Next != nil {
				next = *page.Next
			}
		}
		sort.Strings(names)
		return len(names), names
	}
	if n, names := count("/upstreams?size=2&tags=even"); n != 4 {
		t.Fatalf("tags=even: %v", names)
	}
	if n, names := count("/upstreams?size=3&tags=all,even"); n != 4 {
		t.Fatalf("tags=all,even: %v", names)
	}
	if n, names := count("/upstreams?size=1&tags=even/all"); n != 7 {
		t.Fatalf("tags=even/all: %v", names)
	}
	if n, _ := count("/upstreams?tags=none"); n != 0 {
		t.Fatalf("tags=none matched %d", n)
	}
}

func TestConcurrentWriters(t *testing.T) {
	e := start(t)
	e.do("POST", "/upstreams", `{"name":"shared"}`)
	var wg sync.WaitGroup
	errs := make(chan string, 1000)
	for g := 0; g < 100; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				post := func(path, body string, want int) {
					req, _ := http.NewRequest("POST", e.base+path, bytes.NewBufferString(body))
					req.Header.Set("Content-Type", "application/json")
					resp, err := testcaddy.Client.Do(req)
					if err != nil {
						errs <- err.Error()
						return
					}
					resp.Body.Close()
					if resp.StatusCode != want {
						errs <- fmt.Sprintf("%s %s: %d", path, body, resp.StatusCode)
					}
				}
				post("/upstreams/shared/targets", fmt.Sprintf(`{"target":"10.%d.%d.1:80"}`, g, i), 201)
				post("/upstreams", fmt.Sprintf(`{"name":"g%d-%d"}`, g, i), 201)
				post("/upstreams", `{"name":"contended"}`, 0) // one 201, the rest 409
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		if !bytes.Contains([]byte(msg), []byte("contended")) {
			t.Error(msg)
		}
	}
	_, body, _ := e.do("GET", "/upstreams/shared/targets?size=1000", nil)
	var page struct{ Data []any }
	json.Unmarshal(body, &page)
	if len(page.Data) != 500 {
		t.Fatalf("%d targets after 500 concurrent creates", len(page.Data))
	}
	_, body, _ = e.do("GET", "/upstreams?size=1000", nil)
	json.Unmarshal(body, &page)
	if len(page.Data) != 502 {
		t.Fatalf("%d upstreams, want 500 + shared + contended", len(page.Data))
	}
}

func TestMountedOnCaddyAdminWithTokenAndBasicAuth(t *testing.T) {
	c := testcaddy.New(t)
	basicPort, tokenPort := testcaddy.FreePort(t), testcaddy.FreePort(t)
	// a cheap bcrypt cost keeps the race-enabled run fast
	hash, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	c.Load(t, `{`+testcaddy.GlobalOptions+`
	upstreams {
		store bolt {DB}
	}
}
http://127.0.0.1:{TOKEN} {
	kong_admin {
		token s3cret
	}
}
http://127.0.0.1:{BASIC} {
	basic_auth {
		admin {HASH}
	}
	kong_admin
}`, "{DB}", filepath.Join(t.TempDir(), "r.db"), "{TOKEN}", fmt.Sprint(tokenPort), "{BASIC}", fmt.Sprint(basicPort), "{HASH}", string(hash))

	// Caddy's admin endpoint under /kong, with Caddy's Host protection
	if status, body := c.Admin(t, "POST", "/kong/upstreams", "application/json", []byte(`{"name":"via-admin"}`)); status != 201 {
		t.Fatalf("POST /kong/upstreams: %d %s", status, body)
	}
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/kong/upstreams", c.AdminPort), nil)
	req.Host = "evil.example"
	if resp, err := testcaddy.Client.Do(req); err != nil || resp.StatusCode != 403 {
		t.Fatalf("foreign Host on Caddy's admin endpoint: %v %v, want 403", resp, err)
	}
	c.Admin(t, "POST", "/kong/upstreams", "application/json", []byte(`{"name":"second"}`))
	status, body := c.Admin(t, "GET", "/kong/upstreams?size=1", "", nil)
	var page struct{ Next string }
	json.Unmarshal(body, &page)
	if status != 200 || !bytes.HasPrefix([]byte(page.Next), []byte("/kong/upstreams?offset=")) {
		t.Fatalf("GET /kong/upstreams?size=1: %d %s (next links keep the /kong prefix)", status, body)
	}
	if status, body := c.Admin(t, "GET", page.Next, "", nil); status != 200 || bytes.Contains(body, []byte(`"offset"`)) {
		t.Fatalf("GET %s: %d %s", page.Next, status, body)
	}
	if status, body := c.Admin(t, "GET", "/kong", "", nil); status != 200 || !bytes.Contains(body, []byte(`"tagline":"Welcome to kong"`)) {
		t.Fatalf("GET /kong: %d %s", status, body)
	}
	if status, body := c.Admin(t, "GET", "/kong/upstreams/via-admin/nothing", "", nil); status != 404 || string(body) != `{"message":"Not found"}` {
		t.Fatalf("unknown path under /kong: %d %s", status, body)
	}
	// Caddy's own routes are untouched
	if status, _ := c.Admin(t, "GET", "/config/", "", nil); status != 200 {
		t.Fatalf("GET /config/: %d", status)
	}

	get := func(port int, header, value string) (int, []byte) {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/upstreams/via-admin", port), nil)
		if header == "basic" {
			req.SetBasicAuth("admin", value)
		} else if header != "" {
			req.Header.Set(header, value)
		}
		resp, err := testcaddy.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.Bytes()
	}
	if status, body := get(tokenPort, "", ""); status != 401 || string(body) != `{"message":"Invalid credentials. Token or User credentials required"}` {
		t.Fatalf("no token: %d %s", status, body)
	}
	if status, _ := get(tokenPort, "Kong-Admin-Token", "wrong"); status != 401 {
		t.Fatalf("wrong token: %d", status)
	}
	if status, _ := get(tokenPort, "Kong-Admin-Token", "s3cret"); status != 200 {
		t.Fatalf("right token: %d", status)
	}
	if status, _ := get(basicPort, "basic", "wrong"); status != 401 {
		t.Fatalf("basic_auth wrong password: %d", status)
	}
	if status, _ := get(basicPort, "basic", "secret"); status != 200 {
		t.Fatalf("basic_auth right password: %d", status)
	}
}

func TestInfoEndpoints(t *testing.T) {
	e := start(t)
	_, body, hdr := e.do("GET", "/", nil)
	var root struct {
		Version       string
		NodeID        string `json:"node_id"`
		Hostname      string
		Configuration struct{ Database string }
	}
	json.Unmarshal(body, &root)
	if root.Version != "3.11.0" || root.NodeID == "" || root.Configuration.Database != "bolt" || hdr.Get("Server") != "kong/3.11.0" {
		t.Fatalf("GET /: %s (Server %q)", body, hdr.Get("Server"))
	}
	_, body, _ = e.do("GET", "/status", nil)
	if !bytes.Contains(body, []byte(`"database":{"reachable":true}`)) {
		t.Fatalf("GET /status: %s", body)
	}
	status, _, hdr := e.do("OPTIONS", "/upstreams", nil)
	if status != 204 || hdr.Get("Allow") != "GET, HEAD, OPTIONS, POST" {
		t.Fatalf("OPTIONS /upstreams: %d %q", status, hdr.Get("Allow"))
	}
}

// TestHealthEndpointsAndManualMarking checks the health shapes and that a
// manual unhealthy takes the address out of rotation at once.
func TestHealthEndpointsAndManualMarking(t *testing.T) {
	e := start(t)
	a, b := testcaddy.StartBackend(t, "a"), testcaddy.StartBackend(t, "b")
	e.do("POST", "/upstreams", `{"name":"u"}`)
	e.do("POST", "/upstreams/u/targets", `{"target":"`+a.Addr+`"}`)
	e.do("POST", "/upstreams/u/targets", `{"target":"`+b.Addr+`"}`)
	e.expect("PUT", "/upstreams/u/targets/"+a.Addr+"/unhealthy", nil, 400, `{"message":"no healthchecker found for u"}`)
	_, body, _ := e.do("GET", "/upstreams/u/health?balancer_health=1", nil)
	var raw map[string]map[string]any
	json.Unmarshal(body, &raw)
	if raw["data"]["health"] != "HEALTHCHECKS_OFF" || raw["data"]["balancer_health"] != "HEALTHY" {
		t.Fatalf("balancer health with checks off: %s", body)
	}
	e.do("PATCH", "/upstreams/u", `{"healthchecks":{"passive":{"unhealthy":{"tcp_failures":1}}}}`)
	e.expect("PUT", "/upstreams/u/targets/"+a.Addr+"/unhealthy", nil, 204, "")
	for i := 0; i < 6; i++ {
		if status, body := getProxy(t, e.proxy); status != 200 || body[0] != 'b' {
			t.Fatalf("request %d after marking a unhealthy: %d %s", i, status, body)
		}
	}
	_, body, _ = e.do("GET", "/upstreams/u/health", nil)
	if !bytes.Contains(body, []byte(`"health":"UNHEALTHY"`)) || !bytes.Contains(body, []byte(`"node_id"`)) {
		t.Fatalf("health list: %s", body)
	}
	e.expect("POST", "/upstreams/u/targets/"+a.Addr+"/healthy", nil, 204, "") // Kong 2.x / go-kong verb
	e.expect("PUT", "/upstreams/u/targets/nope:1/healthy", nil, 404, `{"message":"Not found"}`)
	hits := a.Hits.Load()
	for i := 0; i < 4; i++ {
		getProxy(t, e.proxy)
	}
	if a.Hits.Load() != hits+2 {
		t.Fatalf("a got %d of 4 requests after being marked healthy", a.Hits.Load()-hits)
	}
}

// TestAdminWriteToFirstProxiedRequest measures how long after an Admin API
// write returns the proxy routes a request to the new target (reported,
// not asserted: there is nothing to wait for, the write publishes the pool
// before it answers).
func TestAdminWriteToFirstProxiedRequest(t *testing.T) {
	e := start(t)
	e.do("POST", "/upstreams", `{"name":"u"}`)
	var samples []time.Duration
	maxTries := 0
	for i := 0; i < 50; i++ {
		be := testcaddy.StartBackend(t, fmt.Sprintf("n%d", i))
		status, body, _ := e.do("POST", "/upstreams/u/targets", `{"target":"`+be.Addr+`","weight":65535}`)
		if status != 201 {
			t.Fatalf("%d %s", status, body)
		}
		done := time.Now()
		// the previous targets were set to weight 0: the new one takes all traffic
		for j := 0; j < 1000; j++ {
			if _, got := getProxy(t, e.proxy); len(got) > 0 && got[:len(be.Name)] == be.Name {
				samples = append(samples, time.Since(done))
				maxTries = max(maxTries, j+1)
				break
			}
		}
		e.do("PATCH", "/upstreams/u/targets/"+be.Addr, `{"weight":0}`)
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	if len(samples) == 0 {
		t.Fatal("the new target was never reached")
	}
	t.Logf("admin write -> first request routed to the new target: median %v, max %v over %d changes; at most %d request(s) needed",
		samples[len(samples)/2], samples[len(samples)-1], len(samples), maxTries)
}

func getProxy(t *testing.T, port int) (int, string) {
	t.Helper()
	resp, err := testcaddy.Client.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// TestEmptyTokenRefused: a token placeholder that expands to nothing must
// not leave the Admin API open.
func TestEmptyTokenRefused(t *testing.T) {
	h := &admin.Handler{Guard: admin.Guard{Token: "{env.CADDY_UPSTREAMS_SURELY_UNSET}"}}
	if err := h.Provision(caddy.Context{}); err == nil {
		t.Fatal("an empty expanded token was accepted")
	}
	t.Setenv("CADDY_UPSTREAMS_TEST_TOKEN", "s3cret")
	h = &admin.Handler{Guard: admin.Guard{Token: "{env.CADDY_UPSTREAMS_TEST_TOKEN}"}}
	if err := h.Provision(caddy.Context{}); err != nil || h.Token != "s3cret" || h.TokenHeader != "Kong-Admin-Token" {
		t.Fatalf("%v: token %q header %q", err, h.Token, h.TokenHeader)
	}
}

// TestSameEntityFromEveryEncoding creates one upstream and one target
// through JSON, form-urlencoded and multipart bodies and checks the three
// answers (and what GET reads back) are the same entity.
func TestSameEntityFromEveryEncoding(t *testing.T) {
	e := start(t)
	type field struct{ key, value string }
	upstream := []field{
		{"tags[1]", "a"}, {"tags[2]", "b"}, {"slots", "100"}, {"hash_on", "header"}, {"hash_on_header", "X-User"},
		{"host_header", ""}, {"use_srv_name", "true"},
		{"healthchecks.active.http_path", "/ping"}, {"healthchecks.active.timeout", "2.5"},
		{"healthchecks.active.healthy.http_statuses[1]", "200"}, {"healthchecks.active.healthy.http_statuses[2]", "204"},
		{"healthchecks.passive.unhealthy.tcp_failures", "3"}, {"healthchecks.threshold", "25"},
	}
	const upstreamJSON = `{"tags":["a","b"],"slots":100,"hash_on":"header","hash_on_header":"X-User","host_header":null,"use_srv_name":true,
		"healthchecks":{"active":{"http_path":"/ping","timeout":2.5,"healthy":{"http_statuses":[200,204]}},"passive":{"unhealthy":{"tcp_failures":3}},"threshold":25}}`
	targetFields := []field{{"target", "10.1.1.1:80"}, {"weight", "7"}, {"tags[1]", "m"}}
	const targetJSON = `{"target":"10.1.1.1:80","weight":7,"tags":["m"]}`

	encode := func(kind, name string, fields []field) ([]byte, string) {
		if name != "" {
			fields = append([]field{{"name", name}}, fields...)
		}
		switch kind {
		case "form":
			v := url.Values{}
			for _, f := range fields {
				v.Add(f.key, f.value)
			}
			return []byte(v.Encode()), "application/x-www-form-urlencoded"
		default:
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			for _, f := range fields {
				mw.WriteField(f.key, f.value)
			}
			mw.Close()
			return buf.Bytes(), mw.FormDataContentType()
		}
	}
	strip := func(body []byte, name string) string {
		return string(bytes.ReplaceAll(normalize(body), []byte(`"`+name+`"`), []byte(`"NAME"`)))
	}
	var answers, targets []string
	for _, kind := range []string{"json", "form", "multipart"} {
		name := "via-" + kind
		var status int
		var body []byte
		if kind == "json" {
			status, body, _ = e.do("POST", "/upstreams", `{"name":"`+name+`",`+upstreamJSON[1:])
		} else {
			raw, ct := encode(kind, name, upstream)
			status, body, _ = e.do("POST", "/upstreams", raw, ct)
		}
		if status != 201 {
			t.Fatalf("%s: %d %s", kind, status, body)
		}
		_, read, _ := e.do("GET", "/upstreams/"+name, nil)
		if strip(read, name) != strip(body, name) {
			t.Fatalf("%s: GET differs from the POST answer:\n%s\n%s", kind, read, body)
		}
		answers = append(answers, strip(body, name))
		if kind == "json" {
			status, body, _ = e.do("POST", "/upstreams/"+name+"/targets", targetJSON)
		} else {
			raw, ct := encode(kind, "", targetFields)
			status, body, _ = e.do("POST", "/upstreams/"+name+"/targets", raw, ct)
		}
		if status != 201 {
			t.Fatalf("%s target: %d %s", kind, status, body)
		}
		targets = append(targets, string(normalize(body)))
	}
	for i := 1; i < len(answers); i++ {
		if answers[i] != answers[0] || targets[i] != targets[0] {
			t.Fatalf("encodings disagree:\n%s\n%s\n%s\n%s", answers[0], answers[i], targets[0], targets[i])
		}
	}
	e.compare("the JSON answer", 201, []byte(answers[0]), 201, upstreamBody("NAME", `tags=["a","b"];slots=100;hash_on="header";hash_on_header="X-User";algorithm="consistent-hashing";use_srv_name=true;healthchecks=`+
		strings.NewReplacer(`"http_path":"/"`, `"http_path":"/ping"`, `"timeout":1`, `"timeout":2.5`, `"healthy":{"interval":0,"http_statuses":[200,302]`, `"healthy":{"interval":0,"http_statuses":[200,204]`,
			`"unhealthy":{"http_statuses":[429,500,503],"tcp_failures":0`, `"unhealthy":{"http_statuses":[429,500,503],"tcp_failures":3`, `"threshold":0`, `"threshold":25`).Replace(defaultHealthchecks)))
	// a PATCH by form clears with an empty value and merges nested keys
	raw, ct := encode("form", "", []field{{"hash_on", "none"}, {"hash_on_header", ""}, {"healthchecks.active.healthy.interval", "9"}})
	status, body, _ := e.do("PATCH", "/upstreams/via-form", raw, ct)
	if status != 200 || !bytes.Contains(body, []byte(`"hash_on_header":null`)) || !bytes.Contains(body, []byte(`"algorithm":"round-robin"`)) ||
		!bytes.Contains(body, []byte(`"healthy":{"interval":9,"http_statuses":[200,204]`)) {
		t.Fatalf("form PATCH: %d %s", status, body)
	}
}
