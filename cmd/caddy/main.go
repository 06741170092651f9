// Command caddy is Caddy with its standard modules plus every
// caddy-upstreams module. Build it with `go build ./cmd/caddy`.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddy-upstreams/caddy-upstreams"
)

func main() {
	caddycmd.Main()
}
