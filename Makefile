# The two commands of the README: `make run` runs Caddy with our modules on
# the embedded store and testdata/Caddyfile (Kong's seed example: kong.yaml
# loaded, kong_proxy on :8000, the Admin API on 127.0.0.1:8001); `make test`
# runs every test.

.PHONY: run test build bench bench-compare

run:
	go run ./cmd/caddy run --config testdata/Caddyfile

test:
	bash scripts/test.sh

build:
	go build -o caddy ./cmd/caddy

bench:
	go test -run '^$$' -bench . -benchmem ./upstreams/...

# bench/run.sh: the registry against Caddy's static reverse_proxy and nginx
# (throughput, churn soak, scale); see BENCHMARKS.md. Takes ~15 minutes.
bench-compare:
	bash bench/run.sh
