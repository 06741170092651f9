package admin_test

import "testing"

// TestNextLinksAsKong: /upstreams/{u}/targets/all's next link has no
// size (Kong's upstreams.lua builds it from the offset alone), and a tag
// filter is carried as Kong's escape_uri writes it (a space is %20).
func TestNextLinksAsKong(t *testing.T) {
	e := start(t)
	e.expectStatus("POST", "/upstreams", `{"name":"u","tags":["corp_ a"]}`, 201)
	e.expectStatus("POST", "/upstreams", `{"name":"v","tags":["corp_ a"]}`, 201)
	for _, target := range []string{"10.0.0.1:80", "10.0.0.2:80"} {
		e.expectStatus("POST", "/upstreams/u/targets", `{"target":"`+target+`"}`, 201)
	}
	page := e.expectStatus("GET", "/upstreams/u/targets/all?size=1", nil, 200)
	if page["next"] != "/upstreams/u/targets/all?offset="+page["offset"].(string) {
		t.Fatalf("targets/all next %v", page["next"])
	}
	page = e.expectStatus("GET", "/upstreams?tags=corp_%20a&size=1", nil, 200)
	if page["next"] != "/upstreams?offset="+page["offset"].(string)+"&tags=corp_%20a&size=1" {
		t.Fatalf("upstreams next %v", page["next"])
	}
}
