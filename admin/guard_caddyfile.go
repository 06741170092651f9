package admin

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// UnmarshalCaddyfileOption reads one Guard option of a handler's block, at
// the dispenser's current token, and reports whether it was one:
//
//	token <token>                         # e.g. {env.KONG_ADMIN_TOKEN} or {file./etc/caddy/admin.token}
//	token <name> <token>                  # a named token (repeat for several)
//	token_header <name>                   # default Kong-Admin-Token
//	token_failure_limit <burst> [<window>] # default 10 1m
//	allowed_origins <origin...>
//	allowed_hosts <host[:port]...>
//	public
func (g *Guard) UnmarshalCaddyfileOption(d *caddyfile.Dispenser) (bool, error) {
	switch d.Val() {
	case "token":
		args := d.RemainingArgs()
		switch len(args) {
		case 1:
			g.Token = args[0]
		case 2:
			if g.Tokens == nil {
				g.Tokens = map[string]string{}
			}
			if _, dup := g.Tokens[args[0]]; dup {
				return true, d.Errf("token %q is named twice", args[0])
			}
			g.Tokens[args[0]] = args[1]
		default:
			return true, d.ArgErr()
		}
	case "token_header":
		if !d.NextArg() {
			return true, d.ArgErr()
		}
		g.TokenHeader = d.Val()
	case "token_failure_limit":
		args := d.RemainingArgs()
		if len(args) < 1 || len(args) > 2 {
			return true, d.ArgErr()
		}
		burst, err := strconv.Atoi(args[0])
		if err != nil || burst < 1 {
			return true, d.Errf("token_failure_limit: burst %q is not a positive integer", args[0])
		}
		g.TokenFailureBurst = burst
		if len(args) == 2 {
			window, err := caddy.ParseDuration(args[1])
			if err != nil || window <= 0 {
				return true, d.Errf("token_failure_limit: window %q is not a positive duration", args[1])
			}
			g.TokenFailureWindow = caddy.Duration(window)
		}
	case "allowed_origins", "allowed_hosts":
		option := d.Val()
		args := d.RemainingArgs()
		if len(args) == 0 {
			return true, d.ArgErr()
		}
		if option == "allowed_origins" {
			g.AllowedOrigins = append(g.AllowedOrigins, args...)
		} else {
			g.AllowedHosts = append(g.AllowedHosts, args...)
		}
	case "public":
		g.Public = true
	default:
		return false, nil
	}
	if d.NextArg() {
		return true, d.ArgErr()
	}
	return true, nil
}

// UnmarshalCaddyfileDirective reads a whole handler directive whose only
// options are the Guard's (kong_admin, kong_manager): no arguments, then
// an optional block of Guard options. directive names it in errors.
func (g *Guard) UnmarshalCaddyfileDirective(d *caddyfile.Dispenser, directive string) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		ok, err := g.UnmarshalCaddyfileOption(d)
		if err != nil {
			return err
		}
		if !ok {
			return d.Errf("unrecognized %s option '%s'", directive, d.Val())
		}
	}
	return nil
}
