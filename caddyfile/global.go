// Package caddyfile adds the upstreams registry to the Caddyfile: the
// "upstreams" global option, which declares the store and the upstreams
// with their targets. The reverse_proxy subdirectives ("dynamic registry",
// "lb_policy registry") are parsed by their modules.
package caddyfile

import (
	"encoding/json"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("upstreams", parseGlobal)
}

// parseGlobal parses the "upstreams" global option:
//
//	upstreams {
//		store <module> [<args...>] [{ ... }]
//		resolver <module> [<args...>] [{ ... }]   # e.g. resolver dns 127.0.0.1:53
//		upstream <name> {
//			<field> <value...>          # any Kong upstream field, e.g.
//			algorithm round-robin      #   algorithm, hash_on, slots,
//			hash_on header             #   host_header, tags a b c
//			hash_on_header X-User
//			healthchecks {             # records are blocks, recursively
//				active {
//					http_path /health
//					healthy { interval 5 successes 2 }
//					unhealthy { interval 5 tcp_failures 2 }
//				}
//			}
//			target <host[:port]> [<weight>] [{ tags <tag...> }]
//		}
//		upstream <name> {
//			source <module> { ... }    # targets from a source module
//		}                              #   (upstreams.sources), e.g. kubernetes
//		declarative_config <kong.yaml|kong.json>
//		kubernetes {                   # the Kubernetes Ingress controller
//			kubeconfig <path>          #   (upstreams.controllers.kubernetes)
//			ingress_class kong
//			watch_namespaces <ns...>
//			publish_service <ns/name> | publish_address <ip|host...>
//		}
//	}
//
// The option may appear more than once; its blocks are merged.
func parseGlobal(d *caddyfile.Dispenser, existing any) (any, error) {
	app := new(upstreams.App)
	if existing != nil {
		if prev, ok := existing.(httpcaddyfile.App); ok {
			if err := json.Unmarshal(prev.Value, app); err != nil {
				return nil, err
			}
		}
	}
	d.Next() // option name
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "store":
			if err := parseModule(d, "upstreams.stores.", &app.StoreRaw); err != nil {
				return nil, err
			}
		case "resolver":
			if err := parseModule(d, "upstreams.resolvers.", &app.ResolverRaw); err != nil {
				return nil, err
			}
		case "declarative_config":
			if !d.NextArg() {
				return nil, d.ArgErr()
			}
			app.DeclarativeConfig = d.Val()
			if d.NextArg() {
				return nil, d.ArgErr()
			}
		case "kubernetes":
			if app.Kubernetes != nil {
				return nil, d.Err("kubernetes already specified")
			}
			mod, err := caddyfile.UnmarshalModule(d, upstreams.ControllerNamespace+".kubernetes")
			if err != nil {
				return nil, err
			}
			app.Kubernetes = caddyconfig.JSON(mod, nil)
		case "upstream":
			u, err := parseUpstream(d)
			if err != nil {
				return nil, err
			}
			app.Upstreams = append(app.Upstreams, u)
		default:
			return nil, d.Errf("unrecognized upstreams option '%s'", d.Val())
		}
	}
	return httpcaddyfile.App{Name: "upstreams", Value: caddyconfig.JSON(app, nil)}, nil
}

// parseModule parses "<option> <module> [<args...>] [{ ... }]" into the
// module's JSON object {"module": "<module>", ...} of the namespace.
func parseModule(d *caddyfile.Dispenser, namespace string, raw *json.RawMessage) error {
	option := d.Val()
	if *raw != nil {
		return d.Errf("%s already specified", option)
	}
	obj, err := moduleObject(d, namespace)
	if err != nil {
		return err
	}
	*raw = obj
	return nil
}

// moduleObject parses "<module> [<args...>] [{ ... }]" (the dispenser is on
// the token before the module's name) with the Caddyfile unmarshaler of
// module <namespace><module>, into its JSON object {"module": ..., ...}.
func moduleObject(d *caddyfile.Dispenser, namespace string) (json.RawMessage, error) {
	if !d.NextArg() {
		return nil, d.ArgErr()
	}
	name := d.Val()
	mod, err := caddyfile.UnmarshalModule(d, namespace+name)
	if err != nil {
		return nil, err
	}
	return caddyconfig.JSONModuleObject(mod, "module", name, nil), nil
}
