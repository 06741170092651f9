package pgstore

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// UnmarshalCaddyfile sets up the store from Caddyfile tokens:
//
//	postgres [<dsn>] {
//		dsn             <dsn>
//		resync_interval <duration>
//		table_prefix    <prefix>
//	}
//
// The dispenser is positioned at the module name "postgres". The DSN may
// be given as the argument or in the block, not both; placeholders such
// as {env.PG_DSN} are replaced when the store is provisioned.
func (s *Store) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // module name
	if d.NextArg() {
		s.DSN = d.Val()
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		if !d.NextArg() {
			return d.ArgErr()
		}
		val := d.Val()
		if d.NextArg() {
			return d.ArgErr()
		}
		switch opt {
		case "dsn":
			if s.DSN != "" {
				return d.Err("dsn already specified")
			}
			s.DSN = val
		case "resync_interval":
			dur, err := caddy.ParseDuration(val)
			if err != nil {
				return d.Errf("bad resync_interval %q: %v", val, err)
			}
			if dur <= 0 {
				return d.Errf("resync_interval must be positive, got %q", val)
			}
			s.ResyncInterval = caddy.Duration(dur)
		case "table_prefix":
			if !prefixRE.MatchString(val) {
				return d.Errf("table_prefix %q must match %s", val, prefixRE)
			}
			s.TablePrefix = val
		default:
			return d.Errf("unrecognized postgres store option '%s'", opt)
		}
	}
	if s.DSN == "" {
		return d.Err("postgres store: a dsn is required")
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Store)(nil)
