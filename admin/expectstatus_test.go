package admin_test

import "encoding/json"

// expectStatus sends a request, fails the test unless it answers want, and
// returns the decoded JSON body (nil when there is none): for set-up
// requests whose whole answer other tests compare.
func (e *env) expectStatus(method, path string, body any, want int) map[string]any {
	e.t.Helper()
	status, got, _ := e.do(method, path, body)
	if status != want {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, status, want, got)
	}
	var m map[string]any
	json.Unmarshal(got, &m)
	return m
}
