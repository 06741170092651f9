package ingress

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// UnmarshalCaddyfile sets up the controller from the "kubernetes" block
// of the upstreams global option:
//
//	kubernetes {
//		kubeconfig       <path>            # default: in-cluster config
//		ingress_class    <name>            # default: kong
//		watch_namespaces <namespace...>    # default: all
//		publish_service  <namespace/name>  # address for the Ingresses' status
//		publish_address  <ip|host...>      # or the addresses themselves
//	}
//
// The dispenser is positioned at "kubernetes".
func (c *Controller) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // "kubernetes"
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		key := d.Val()
		args := d.RemainingArgs()
		if len(args) == 0 {
			return d.ArgErr()
		}
		one := func(dst *string) error {
			if len(args) != 1 {
				return d.ArgErr()
			}
			*dst = args[0]
			return nil
		}
		var err error
		switch key {
		case "kubeconfig":
			err = one(&c.Kubeconfig)
		case "ingress_class":
			err = one(&c.IngressClass)
		case "publish_service":
			err = one(&c.PublishService)
		case "watch_namespaces":
			c.WatchNamespaces = append(c.WatchNamespaces, args...)
		case "publish_address":
			c.PublishAddresses = append(c.PublishAddresses, args...)
		default:
			return d.Errf("unrecognized kubernetes option '%s'", key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Controller)(nil)
