package admin

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// listeners are the addresses of the HTTP server a handler belongs to, as
// far as the Admin API's protections care: whether they are all on
// loopback, and which Host values name them.
type listeners struct {
	// server is the server's name in the http app ("srv0"), "" when unknown.
	server string
	addrs  []caddy.NetworkAddress
}

// serverListeners returns the listen addresses of the server whose routes
// are being provisioned: Caddy's http app puts the *caddyhttp.Server in
// the provisioning context, with placeholders in its addresses already
// replaced. Outside an HTTP server (a bare caddy.Context) it returns none.
func serverListeners(ctx caddy.Context) (listeners, error) {
	if ctx.Context == nil {
		return listeners{}, nil
	}
	srv, _ := ctx.Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server)
	if srv == nil {
		return listeners{}, nil
	}
	ls := listeners{server: "this server"}
	for name, s := range httpServers(ctx) {
		if s == srv {
			ls.server = name
		}
	}
	for _, a := range srv.Listen {
		na, err := caddy.ParseNetworkAddress(a)
		if err != nil {
			return listeners{}, fmt.Errorf("parsing listen address %q: %v", a, err)
		}
		ls.addrs = append(ls.addrs, na)
	}
	return ls, nil
}

// httpServers returns the http app's servers by name, for messages; nil
// when the app cannot be reached.
func httpServers(ctx caddy.Context) map[string]*caddyhttp.Server {
	app, err := ctx.AppIfConfigured("http")
	if err != nil {
		return nil
	}
	if h, ok := app.(*caddyhttp.App); ok {
		return h.Servers
	}
	return nil
}

// loopbackOnly reports whether every address is reachable from this
// machine only: a loopback IP, localhost, or a unix socket. An inherited
// file descriptor and a wildcard or other interface are not.
func (ls listeners) loopbackOnly() bool {
	if len(ls.addrs) == 0 {
		return false
	}
	for _, na := range ls.addrs {
		if !isLoopbackAddress(na) {
			return false
		}
	}
	return true
}

func isLoopbackAddress(na caddy.NetworkAddress) bool {
	if na.IsUnixNetwork() {
		return true
	}
	if na.IsFdNetwork() {
		return false
	}
	if strings.EqualFold(na.Host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(na.Host)
	return err == nil && ip.IsLoopback()
}

// loopbackHosts returns the Host values that name the listeners when they
// are all loopback TCP addresses: localhost, 127.0.0.1, [::1] and the
// address's own host, each with the port (and without it on 80 and 443,
// as browsers send it). It returns nil when a listener is not on loopback
// or is a socket, where no Host is the listener's own.
func (ls listeners) loopbackHosts() map[string]bool {
	if !ls.loopbackOnly() {
		return nil
	}
	hosts := map[string]bool{}
	for _, na := range ls.addrs {
		if na.IsUnixNetwork() {
			return nil
		}
		for port := na.StartPort; port <= na.EndPort; port++ {
			p := strconv.FormatUint(uint64(port), 10)
			for _, name := range []string{"localhost", "127.0.0.1", "::1", na.Host} {
				hosts[strings.ToLower(net.JoinHostPort(name, p))] = true
				if port == 80 || port == 443 {
					hosts[strings.ToLower(hostOnly(name))] = true
				}
			}
		}
	}
	return hosts
}

// hostOnly brackets an IPv6 address as it appears in a Host header.
func hostOnly(name string) string {
	if strings.Contains(name, ":") {
		return "[" + name + "]"
	}
	return name
}

// String lists the addresses for messages: "srv0 (:8001, 127.0.0.1:8002)".
func (ls listeners) String() string {
	list := make([]string, len(ls.addrs))
	for i, na := range ls.addrs {
		list[i] = na.String()
	}
	return fmt.Sprintf("%s (%s)", ls.server, strings.Join(list, ", "))
}
