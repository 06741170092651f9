package upstreams_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

// bigKongYAML has services with one route each, and upstreams with ten
// targets each.
func bigKongYAML(services, upstreamCount int) []byte {
	var b strings.Builder
	b.WriteString("_format_version: \"3.0\"\nservices:\n")
	for i := 0; i < services; i++ {
		fmt.Fprintf(&b, "  - name: s%d\n    host: u%d\n    routes:\n      - name: r%d\n        paths: [/p%d]\n", i, i%upstreamCount, i, i)
	}
	b.WriteString("upstreams:\n")
	for i := 0; i < upstreamCount; i++ {
		fmt.Fprintf(&b, "  - name: u%d\n    targets:\n", i)
		for j := 0; j < 10; j++ {
			fmt.Fprintf(&b, "      - target: 10.%d.%d.%d:80\n", i/256, i%256, j)
		}
	}
	return []byte(b.String())
}

// BenchmarkDeclarativeBuild parses and validates a kong.yaml of 1 000
// services, 1 000 routes, 100 upstreams and 1 000 targets.
func BenchmarkDeclarativeBuild(b *testing.B) {
	raw := bigKongYAML(1000, 100)
	for i := 0; i < b.N; i++ {
		doc, err := upstreams.ParseDeclarative(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := upstreams.BuildDeclarative(doc, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReplaceDeclarative replaces a registry holding the same
// configuration (one fsync'd bolt batch, pools and snapshot republished).
func BenchmarkReplaceDeclarative(b *testing.B) {
	doc, _ := upstreams.ParseDeclarative(bigKongYAML(1000, 100))
	cfg, err := upstreams.BuildDeclarative(doc, false)
	if err != nil {
		b.Fatal(err)
	}
	reg := newRegistry(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := reg.ReplaceDeclarative(ctx, cfg); err != nil {
			b.Fatal(err)
		}
	}
}
