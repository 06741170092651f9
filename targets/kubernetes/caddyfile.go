package kubernetes

import (
	"strconv"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// UnmarshalCaddyfile sets up the source from Caddyfile tokens:
//
//	source kubernetes {
//		namespace  <namespace>      # default: default
//		service    <name>           # required
//		port       <name|number>    # default: the Service's only port
//		kubeconfig <path>           # default: in-cluster config
//		weight     <1-65535>        # default: 100
//	}
//
// The dispenser is positioned at the module name "kubernetes".
func (s *Source) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // module name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		key := d.Val()
		var val string
		if !d.Args(&val) || d.NextArg() {
			return d.ArgErr()
		}
		switch key {
		case "namespace":
			s.Namespace = val
		case "service":
			s.Service = val
		case "port":
			s.Port = Port(val)
		case "kubeconfig":
			s.Kubeconfig = val
		case "weight":
			w, err := strconv.Atoi(val)
			if err != nil {
				return d.Errf("weight: %v", err)
			}
			s.Weight = w
		default:
			return d.Errf("unrecognized kubernetes source option '%s'", key)
		}
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Source)(nil)
