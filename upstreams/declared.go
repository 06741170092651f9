package upstreams

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"

	"go.uber.org/zap"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// declaredUpstream is a validated upstream from config, with its targets.
type declaredUpstream struct {
	name    string
	fields  map[string]any // the upstream's fields as written (without targets and source)
	targets []map[string]any
	source  *declaredSource // nil when the targets are not from a source
}

// parseDeclared validates the upstreams declared in config with the same
// schema as the Admin API, so config errors fail the load with Kong's
// messages, and nothing is written yet.
func parseDeclared(list []DeclaredUpstream) ([]declaredUpstream, error) {
	seen := map[string]bool{}
	var out []declaredUpstream
	for i, raw := range list {
		fields := schema.Clone(map[string]any(raw)).(map[string]any)
		var targets []map[string]any
		if ts, ok := fields["targets"]; ok {
			arr, ok := ts.([]any)
			if !ok {
				return nil, fmt.Errorf("upstreams[%d].targets: expected an array", i)
			}
			for j, t := range arr {
				tm, ok := t.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("upstreams[%d].targets[%d]: expected an object", i, j)
				}
				targets = append(targets, tm)
			}
			delete(fields, "targets")
		}
		var source *declaredSource
		if s, ok := fields["source"]; ok {
			if targets != nil {
				return nil, fmt.Errorf("upstreams[%d]: \"targets\" and \"source\" cannot be combined: the source manages the upstream's targets", i)
			}
			var err error
			if source, err = parseDeclaredSource(s); err != nil {
				return nil, fmt.Errorf("upstreams[%d]: %w", i, err)
			}
			delete(fields, "source")
		}
		check := schema.Clone(fields).(map[string]any)
		m, verr := UpstreamSchema.Process(check, schema.Insert)
		if verr != nil {
			return nil, fmt.Errorf("upstreams[%d]: %s", i, schema.SchemaViolation(verr).Message)
		}
		name := m["name"].(string)
		if seen[name] {
			return nil, fmt.Errorf("upstreams[%d]: upstream %q is declared twice", i, name)
		}
		seen[name] = true
		addrs := map[string]bool{}
		for j, t := range targets {
			tc := schema.Clone(t).(map[string]any)
			if s, ok := tc["target"].(string); ok {
				if norm, ok := schema.NormalizeTarget(s); ok {
					tc["target"] = norm
				}
			}
			tc["upstream"] = map[string]any{"id": "00000000-0000-0000-0000-000000000000"}
			tm, verr := TargetSchema.Process(tc, schema.Insert)
			if verr != nil {
				return nil, fmt.Errorf("upstreams[%d] (%s) targets[%d]: %s", i, name, j, schema.SchemaViolation(verr).Message)
			}
			addr := tm["target"].(string)
			if addrs[addr] {
				return nil, fmt.Errorf("upstreams[%d] (%s): target %s is declared twice", i, name, addr)
			}
			addrs[addr] = true
		}
		out = append(out, declaredUpstream{name: name, fields: fields, targets: targets, source: source})
	}
	return out, nil
}

// ApplyDeclared upserts config-declared upstreams and targets. Unchanged
// entities are not rewritten, so a reload that changes nothing writes
// nothing. On a store shared by several nodes, a node started together
// with another from the same config may find a declared name taken in the
// store by an entity it has not heard of yet: it then reloads and applies
// the declarations again, on top of what the other node wrote.
func (r *Registry) ApplyDeclared(ctx context.Context, list []declaredUpstream) error {
	err := r.applyDeclaredOnce(ctx, list)
	var se *schema.Error
	if !errors.As(err, &se) || se.Status != http.StatusConflict {
		return err
	}
	r.logger.Info("a declared entity was just written by another node; catching up and applying the declarations again", zap.Error(err))
	if rerr := r.Reload(ctx); rerr != nil {
		return err
	}
	return r.applyDeclaredOnce(ctx, list)
}

func (r *Registry) applyDeclaredOnce(ctx context.Context, list []declaredUpstream) error {
	for _, d := range list {
		cur, exists := r.Upstream(d.name)
		if !exists || !sameDeclaredFields(&cur, d.fields) {
			in := schema.Clone(d.fields).(map[string]any)
			if exists {
				if _, given := in["created_at"]; !given {
					in["created_at"] = float64(cur.CreatedAt)
				}
			}
			if _, err := r.UpsertUpstream(ctx, d.name, in); err != nil {
				return fmt.Errorf("upstream %s: %w", d.name, err)
			}
		}
		var created []map[string]any
		for _, t := range d.targets {
			in := schema.Clone(t).(map[string]any)
			addr, _ := schema.NormalizeTarget(in["target"].(string))
			if existing, ok := r.Target(d.name, addr); ok {
				if sameDeclaredFields(&existing, in) {
					continue
				}
				if _, err := r.UpdateTarget(ctx, d.name, existing.ID, in); err != nil {
					return fmt.Errorf("upstream %s target %s: %w", d.name, addr, err)
				}
				continue
			}
			created = append(created, in)
		}
		// new targets in one write: 1 000 declared targets cost one
		// transaction and one pool build, not 1 000 of each
		if len(created) > 0 {
			if _, err := r.CreateTargets(ctx, d.name, created); err != nil {
				return fmt.Errorf("upstream %s: creating %d declared targets: %w", d.name, len(created), err)
			}
		}
	}
	return nil
}

// sameDeclaredFields reports whether applying the declared fields (with
// defaults for the ones not written) to entity would change nothing.
func sameDeclaredFields(entity any, declared map[string]any) bool {
	current := EntityMap(entity)
	var s *schema.Schema
	switch entity.(type) {
	case *Upstream:
		s = UpstreamSchema
	default:
		s = TargetSchema
	}
	in := schema.Clone(declared).(map[string]any)
	if t, ok := in["target"].(string); ok {
		if norm, ok := schema.NormalizeTarget(t); ok {
			in["target"] = norm
		}
	}
	in["upstream"] = current["upstream"]
	for _, k := range []string{"id", "created_at", "updated_at"} {
		in[k] = current[k]
	}
	if s == UpstreamSchema {
		delete(in, "upstream")
	}
	want, verr := s.Process(in, schema.Upsert)
	if verr != nil {
		return false
	}
	return reflect.DeepEqual(normalizeJSON(want), normalizeJSON(current))
}

func normalizeJSON(m map[string]any) any {
	var out any
	_ = remarshal(m, &out)
	return out
}
