package admin

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// memoryUnit is how GET /status renders memory sizes: Kong's ?unit= (b,
// k, m or g, any case; default m) and ?scale= (decimals, default 2).
type memoryUnit struct {
	unit  string
	scale int
}

// parseMemoryUnit reads ?unit= and ?scale= and checks them in Kong's
// order: bytes need no scale; a negative scale, then an unknown unit, is
// a 400 with Kong's message. A scale that is not a number is ignored, as
// Kong's tonumber makes it the default.
func parseMemoryUnit(q url.Values) (memoryUnit, error) {
	mu := memoryUnit{unit: "m", scale: 2}
	if u, ok := q["unit"]; ok {
		mu.unit = u[0]
	}
	if s := q.Get("scale"); s != "" {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			mu.scale = int(f)
			if f < 0 {
				mu.scale = -1
			}
		}
	}
	switch strings.ToLower(mu.unit) {
	case "", "b":
		return mu, nil
	}
	if mu.scale < 0 {
		return mu, schema.Plain(http.StatusBadRequest, "scale must be equal or greater than 0")
	}
	switch strings.ToLower(mu.unit) {
	case "k", "m", "g":
		return mu, nil
	}
	return mu, schema.Plain(http.StatusBadRequest, "invalid unit '"+mu.unit+"' (expected 'k/K', 'm/M', or 'g/G')")
}

// format renders a size: a JSON number of bytes for unit b, else Kong's
// "<n> KiB|MiB|GiB" string (a bare decimal string for an empty unit, as
// Kong's bytes_to_str gives).
func (mu memoryUnit) format(bytes uint64) any {
	var div float64
	var suffix string
	switch strings.ToLower(mu.unit) {
	case "b":
		return bytes
	case "":
		return strconv.FormatUint(bytes, 10)
	case "k":
		div, suffix = 1<<10, " KiB"
	case "g":
		div, suffix = 1<<30, " GiB"
	default:
		div, suffix = 1<<20, " MiB"
	}
	return strconv.FormatFloat(float64(bytes)/div, 'f', mu.scale, 64) + suffix
}
