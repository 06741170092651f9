package caddyfile

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-upstreams/caddy-upstreams/targets"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// parseUpstream parses one "upstream <name> { ... }" block. The dispenser
// is positioned at "upstream".
func parseUpstream(d *caddyfile.Dispenser) (upstreams.DeclaredUpstream, error) {
	if !d.NextArg() {
		return nil, d.ArgErr()
	}
	u := upstreams.DeclaredUpstream{"name": d.Val()}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	var targetList []any
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		key := d.Val()
		switch key {
		case "target":
			t, err := parseTarget(d)
			if err != nil {
				return nil, err
			}
			targetList = append(targetList, t)
		case "source":
			if _, dup := u["source"]; dup {
				return nil, d.Err("'source' specified twice")
			}
			src, err := parseSource(d)
			if err != nil {
				return nil, err
			}
			u["source"] = src
		case "id", "created_at", "updated_at", "name":
			return nil, d.Errf("'%s' cannot be set in an upstream block", key)
		default:
			f, ok := upstreams.UpstreamSchema.Field(key)
			if !ok {
				return nil, d.Errf("unrecognized upstream field '%s'", key)
			}
			if _, dup := u[key]; dup {
				return nil, d.Errf("'%s' specified twice", key)
			}
			v, err := parseFieldValue(d, f)
			if err != nil {
				return nil, err
			}
			u[key] = v
		}
	}
	if targetList != nil {
		if _, ok := u["source"]; ok {
			return nil, d.Errf("upstream %v: 'target' and 'source' cannot be combined: the source manages the upstream's targets", u["name"])
		}
		u["targets"] = targetList
	}
	return u, nil
}

// parseSource parses "source <module> [<args...>] [{ ... }]" with the
// Caddyfile unmarshaler of module upstreams.sources.<module>.
func parseSource(d *caddyfile.Dispenser) (any, error) {
	return moduleObject(d, targets.SourceNamespace+".")
}

// parseTarget parses "target <host[:port]> [<weight>] [{ tags <tag...> }]".
func parseTarget(d *caddyfile.Dispenser) (map[string]any, error) {
	if !d.NextArg() {
		return nil, d.ArgErr()
	}
	t := map[string]any{"target": d.Val()}
	if d.NextArg() {
		f, _ := upstreams.TargetSchema.Field("weight")
		t["weight"] = schema.FromString(f, d.Val())
	}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "weight", "tags":
			name := d.Val() // parseFieldValue moves the dispenser past it
			f, _ := upstreams.TargetSchema.Field(name)
			v, err := parseFieldValue(d, f)
			if err != nil {
				return nil, err
			}
			t[name] = v
		default:
			return nil, d.Errf("unrecognized target field '%s'", d.Val())
		}
	}
	return t, nil
}

// parseFieldValue reads a field's value from the tokens after its name:
// scalars take one argument, arrays and sets take one or more, records
// take a block of their own fields, maps take a block of "key value...".
func parseFieldValue(d *caddyfile.Dispenser, f *schema.Field) (any, error) {
	switch f.Type {
	case schema.Record:
		if d.NextArg() {
			return nil, d.ArgErr()
		}
		rec := map[string]any{}
		for nesting := d.Nesting(); d.NextBlock(nesting); {
			sub := findField(f.Fields, d.Val())
			if sub == nil {
				return nil, d.Errf("unrecognized field '%s' in %s", d.Val(), f.Name)
			}
			v, err := parseFieldValue(d, sub)
			if err != nil {
				return nil, err
			}
			rec[sub.Name] = v
		}
		return rec, nil
	case schema.Map:
		if d.NextArg() {
			return nil, d.ArgErr()
		}
		m := map[string]any{}
		for nesting := d.Nesting(); d.NextBlock(nesting); {
			k := d.Val()
			var vals []any
			for d.NextArg() {
				vals = append(vals, schema.FromString(f.Values.Elements, d.Val()))
			}
			if vals == nil {
				return nil, d.ArgErr()
			}
			m[k] = vals
		}
		return m, nil
	case schema.Array, schema.Set:
		args := d.RemainingArgs()
		if len(args) == 0 {
			return nil, d.ArgErr()
		}
		list := make([]any, len(args))
		for i, a := range args {
			list[i] = schema.FromString(f.Elements, a)
		}
		return list, nil
	case schema.Foreign:
		if !d.NextArg() {
			return nil, d.ArgErr()
		}
		id := d.Val()
		if d.NextArg() {
			return nil, d.ArgErr()
		}
		return map[string]any{"id": id}, nil
	default:
		if !d.NextArg() {
			return nil, d.ArgErr()
		}
		v := schema.FromString(f, d.Val())
		if d.NextArg() {
			return nil, d.ArgErr()
		}
		return v, nil
	}
}

func findField(fields []schema.Field, name string) *schema.Field {
	for i := range fields {
		if fields[i].Name == name {
			return &fields[i]
		}
	}
	return nil
}
