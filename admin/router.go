package admin

import (
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// handlerFunc serves one method of one route.
type handlerFunc func(c *call) error

// route is a path pattern ("/upstreams/{}/targets") and its methods.
type route struct {
	segments []string
	methods  map[string]handlerFunc
}

// router matches Kong's routing rules: unknown paths answer 404
// {"message":"Not found"}, known paths with another method 405
// {"message":"Method not allowed"}, HEAD is served wherever GET is,
// OPTIONS lists the methods, and a trailing slash is ignored.
type router struct {
	routes []*route
}

func (rt *router) handle(pattern string, methods map[string]handlerFunc) {
	rt.routes = append(rt.routes, &route{segments: strings.Split(strings.Trim(pattern, "/"), "/"), methods: methods})
}

func (rt *router) match(path string) (*route, []string) {
	path = strings.Trim(path, "/")
	var segs []string
	if path != "" {
		segs = strings.Split(path, "/")
	} else {
		segs = []string{""}
	}
	// literal segments take precedence over placeholders ("/targets/all")
	var best *route
	var bestParams []string
	bestLiterals := -1
	for _, r := range rt.routes {
		if len(r.segments) != len(segs) {
			continue
		}
		var params []string
		literals := 0
		ok := true
		for i, s := range r.segments {
			if s == "{}" {
				p, err := url.PathUnescape(segs[i])
				if err != nil || p == "" {
					ok = false
					break
				}
				params = append(params, p)
				continue
			}
			if s != segs[i] {
				ok = false
				break
			}
			literals++
		}
		if ok && literals > bestLiterals {
			best, bestParams, bestLiterals = r, params, literals
		}
	}
	return best, bestParams
}

// serve dispatches a request; newCall builds the per-request context.
func (rt *router) serve(w http.ResponseWriter, r *http.Request, path string, newCall func(params []string) *call) {
	rtMatch, params := rt.match(path)
	if rtMatch == nil {
		writeError(w, r, schema.NotFoundPlain())
		return
	}
	method := r.Method
	if method == http.MethodOptions {
		allow := rtMatch.allowed()
		w.Header().Set("Allow", allow)
		w.Header().Set("Access-Control-Allow-Methods", allow)
		if h := r.Header.Get("Access-Control-Request-Headers"); h != "" {
			w.Header().Set("Access-Control-Allow-Headers", h)
		} else {
			w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
		}
		noContent(w)
		return
	}
	if method == http.MethodHead {
		method = http.MethodGet
	}
	h := rtMatch.methods[method]
	if h == nil {
		writeError(w, r, schema.Plain(http.StatusMethodNotAllowed, "Method not allowed"))
		return
	}
	if err := h(newCall(params)); err != nil {
		writeError(w, r, err)
	}
}

func (r *route) allowed() string {
	set := map[string]bool{"OPTIONS": true}
	for m := range r.methods {
		set[m] = true
		if m == http.MethodGet {
			set[http.MethodHead] = true
		}
	}
	list := make([]string, 0, len(set))
	for m := range set {
		list = append(list, m)
	}
	sort.Strings(list)
	return strings.Join(list, ", ")
}
