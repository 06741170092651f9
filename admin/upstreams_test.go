package admin_test

import (
	"strings"
	"testing"
)

const defaultHealthchecks = `{"active":{"type":"http","timeout":1,"concurrency":10,"http_path":"/","https_sni":null,"https_verify_certificate":true,"headers":null,"healthy":{"interval":0,"http_statuses":[200,302],"successes":0},"unhealthy":{"interval":0,"http_statuses":[429,404,500,501,502,503,504,505],"tcp_failures":0,"timeouts":0,"http_failures":0}},"passive":{"type":"http","healthy":{"http_statuses":[200,201,202,203,204,205,206,207,208,226,300,301,302,303,304,305,306,307,308],"successes":0},"unhealthy":{"http_statuses":[429,500,503],"tcp_failures":0,"timeouts":0,"http_failures":0}},"threshold":0}`

func upstreamBody(name, extra string) string {
	fields := map[string]string{
		"algorithm": `"round-robin"`, "hash_on": `"none"`, "hash_fallback": `"none"`, "hash_on_header": "null",
		"hash_fallback_header": "null", "hash_on_cookie": "null", "hash_on_cookie_path": `"/"`, "hash_on_query_arg": "null",
		"hash_fallback_query_arg": "null", "hash_on_uri_capture": "null", "hash_fallback_uri_capture": "null", "slots": "10000",
		"healthchecks": defaultHealthchecks, "tags": "null", "host_header": "null", "client_certificate": "null",
		"use_srv_name": "false", "sticky_sessions_cookie": "null", "sticky_sessions_cookie_path": `"/"`,
	}
	for _, kv := range strings.Split(extra, ";") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			fields[k] = v
		}
	}
	var b strings.Builder
	b.WriteString(`{"id":"<id>","created_at":0,"updated_at":0,"name":"` + name + `"`)
	for k, v := range fields {
		b.WriteString(`,"` + k + `":` + v)
	}
	b.WriteString("}")
	return b.String()
}

func TestUpstreamEndpoints(t *testing.T) {
	e := start(t)
	created := e.expect("POST", "/upstreams", `{"name":"my-upstream"}`, 201, upstreamBody("my-upstream", ""))
	id := created["id"].(string)
	e.expect("GET", "/upstreams/my-upstream", nil, 200, upstreamBody("my-upstream", ""))
	e.expect("GET", "/upstreams/"+id, nil, 200, upstreamBody("my-upstream", ""))
	e.expect("PATCH", "/upstreams/my-upstream", `{"slots":100,"healthchecks":{"active":{"http_path":"/health"}}}`, 200,
		upstreamBody("my-upstream", `slots=100;healthchecks=`+strings.Replace(defaultHealthchecks, `"http_path":"/"`, `"http_path":"/health"`, 1)))
	e.expect("PUT", "/upstreams/my-upstream", `{"tags":["a"]}`, 200, upstreamBody("my-upstream", `tags=["a"]`))
	e.expect("PUT", "/upstreams/new-one", `{"algorithm":"least-connections"}`, 200, upstreamBody("new-one", `algorithm="least-connections"`))
	e.expect("DELETE", "/upstreams/new-one", nil, 204, "")
	e.expect("DELETE", "/upstreams/new-one", nil, 204, "")
	e.expect("GET", "/upstreams/new-one", nil, 404, `{"message":"Not found"}`)
}
