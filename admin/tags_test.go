package admin_test

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"testing"
)

// Ids chosen so that id order is upstream, target, service, route.
const (
	tagUpstreamID = "00000000-0000-4000-8000-000000000001"
	tagTargetID   = "00000000-0000-4000-8000-000000000002"
	tagServiceID  = "00000000-0000-4000-8000-000000000003"
	tagRouteID    = "00000000-0000-4000-8000-000000000004"
)

// tagPage is a decoded /tags answer.
type tagPage struct {
	Data   []map[string]any `json:"data"`
	Offset string           `json:"offset"`
	Next   *string          `json:"next"`
}

// getTags fetches a /tags page, failing unless it answers 200.
func getTags(e *env, path string) tagPage {
	e.t.Helper()
	status, body, _ := e.do("GET", path, nil)
	var p tagPage
	if err := json.Unmarshal(body, &p); err != nil || status != 200 {
		e.t.Fatalf("GET %s: %d %s", path, status, body)
	}
	return p
}

func tagRow(kind, id, tag string) map[string]any {
	return map[string]any{"entity_name": kind, "entity_id": id, "tag": tag}
}

// kongOffset is Kong's opaque offset for the JSON of v.
func kongOffset(v any) string {
	raw, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// TestTagsListEveryTaggedEntity sends the requests of Kong's
// 14-tags_spec.lua (/tags, /tags/{tag}, pagination, invalid utf-8,
// ignored ?tags=) over every kind of entity the registry stores.
func TestTagsListEveryTaggedEntity(t *testing.T) {
	e := start(t)
	e.expectStatus("POST", "/upstreams", `{"id":"`+tagUpstreamID+`","name":"u","tags":["corp_ a","consumer_ 1"]}`, 201)
	e.expectStatus("POST", "/upstreams/u/targets", `{"id":"`+tagTargetID+`","target":"10.0.0.1:80","tags":["corp_ a"]}`, 201)
	e.expectStatus("POST", "/services", `{"id":"`+tagServiceID+`","name":"s","host":"h.test","tags":["consumer_ 2","corp_ a"]}`, 201)
	e.expectStatus("POST", "/routes", `{"id":"`+tagRouteID+`","paths":["/r"],"tags":["🦍"]}`, 201)
	e.expectStatus("POST", "/upstreams", `{"name":"untagged"}`, 201)

	all := []map[string]any{
		tagRow("upstreams", tagUpstreamID, "corp_ a"), tagRow("upstreams", tagUpstreamID, "consumer_ 1"),
		tagRow("targets", tagTargetID, "corp_ a"),
		tagRow("services", tagServiceID, "consumer_ 2"), tagRow("services", tagServiceID, "corp_ a"),
		tagRow("routes", tagRouteID, "🦍"),
	}
	for _, path := range []string{"/tags", "/tags?tags=not_a_tag", "/tags?tags=invalid@tag"} {
		if p := getTags(e, path); !reflect.DeepEqual(p.Data, all) || p.Next != nil {
			t.Fatalf("GET %s: %+v", path, p)
		}
	}

	// pages of 2, following next: the offset holds the last row's entity
	// id and the tag's place in its tags
	p := getTags(e, "/tags?size=2")
	wantOffset := kongOffset([]any{tagUpstreamID, 2})
	if !reflect.DeepEqual(p.Data, all[:2]) || p.Offset != wantOffset || p.Next == nil || *p.Next != "/tags?offset="+wantOffset+"&size=2" {
		t.Fatalf("GET /tags?size=2: %+v", p)
	}
	var followed []map[string]any
	for path, pages := "/tags?size=2", 0; ; pages++ {
		if pages > len(all) {
			t.Fatalf("GET /tags: next links do not end")
		}
		p := getTags(e, path)
		followed = append(followed, p.Data...)
		if p.Next == nil {
			break
		}
		path = *p.Next
	}
	if !reflect.DeepEqual(followed, all) {
		t.Fatalf("GET /tags pages: %v", followed)
	}

	corp := []map[string]any{all[0], all[2], all[4]}
	if p := getTags(e, "/tags/corp_%20a?tags=invalid@tag"); !reflect.DeepEqual(p.Data, corp) || p.Next != nil {
		t.Fatalf("GET /tags/corp_%%20a: %+v", p)
	}
	p = getTags(e, "/tags/corp_%20a?size=2")
	wantOffset = kongOffset([]string{tagTargetID})
	if !reflect.DeepEqual(p.Data, corp[:2]) || p.Next == nil || *p.Next != "/tags/corp_%20a?offset="+wantOffset {
		t.Fatalf("GET /tags/corp_%%20a?size=2: %+v", p)
	}
	if p = getTags(e, *p.Next); !reflect.DeepEqual(p.Data, corp[2:]) || p.Next != nil {
		t.Fatalf("second page of /tags/corp_%%20a: %+v", p)
	}
	if p := getTags(e, "/tags/%F0%9F%A6%8D"); !reflect.DeepEqual(p.Data, all[5:]) {
		t.Fatalf("GET /tags/🦍: %+v", p)
	}
	e.expect("GET", "/tags/does-not-exist", nil, 200, `{"data":[],"next":null}`)
	e.expect("GET", "/tags/%FF", nil, 400, `{"code":10,"name":"invalid unique tag","message":"invalid utf-8 character sequence detected at position 1"}`)
	e.expect("GET", "/tags?size=0", nil, 400, `{"code":9,"name":"invalid size","message":"size must be an integer between 1 and 1000"}`)
	e.expect("GET", "/tags?offset=%25%25", nil, 400, `{"code":7,"name":"invalid offset","message":"'%%' is not a valid offset: bad base64 encoding"}`)
	e.expect("POST", "/tags", `{}`, 405, `{"message":"Method not allowed"}`)
}
