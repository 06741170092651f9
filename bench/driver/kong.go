package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// kongClient calls the Kong Admin API of a Caddy under test.
type kongClient struct {
	base string // e.g. http://127.0.0.1:12019/kong
	http *http.Client
}

func newKongClient(base string, conns int) (*kongClient, error) {
	if err := checkLoopbackURL(base); err != nil {
		return nil, err
	}
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, IdleConnTimeout: time.Minute}
	return &kongClient{base: base, http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}, nil
}

// do sends a request with an optional JSON body, checks the status and
// decodes a JSON answer into out when out is not nil.
func (k *kongClient) do(method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, k.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := k.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d: %s", method, path, res.StatusCode, want, bytes.TrimSpace(data))
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// checkLoopbackURL refuses anything but http://127.x.y.z or localhost: the
// benchmarks never leave the machine.
func checkLoopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	switch h := u.Hostname(); {
	case h == "localhost", len(h) > 4 && h[:4] == "127.", h == "::1":
		return nil
	default:
		return fmt.Errorf("%s is not a loopback URL", raw)
	}
}
