package upstreams

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/google/uuid"
	"go.yaml.in/yaml/v3"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// DeclarativeFormatVersion is Kong 3.x's _format_version, the one exports
// carry and older documents are migrated to.
const DeclarativeFormatVersion = "3.0"

// DeclarativeConfig is a validated Kong declarative configuration (a
// kong.yaml or kong.json, as decK writes and Kong's POST /config takes):
// every entity complete with defaults, ids and timestamps, references
// resolved to ids.
type DeclarativeConfig struct {
	Services  []*Service
	Routes    []*Route
	Upstreams []*Upstream
	Targets   []*Target
	// Hash identifies the document the config was read from (set by the
	// caller; POST /config's check_hash compares it).
	Hash string
}

// unsupportedKinds are Kong entity kinds a file may list only empty: this
// gateway has none of them, and silently dropping plugins or consumers
// (authentication, rate limits) would open what the file closes.
var unsupportedKinds = []string{
	"plugins", "consumers", "consumer_groups", "certificates", "ca_certificates", "snis", "vaults",
	"keys", "key_sets", "partials", "filter_chains", "licenses", "workspaces",
}

// declarativeMeta are the top-level keys that are not entity lists
// (_info and _konnect are decK's).
var declarativeMeta = []string{"_format_version", "_transform", "_comment", "_workspace", "_info", "_konnect"}

// unsupportedListMessage is the error on a non-empty list of a kind this
// gateway does not have: what is missing, what does its job in Caddy.
func unsupportedListMessage(kind string) string {
	return UnsupportedMessage(kind) + "; the list must be empty"
}

// ParseDeclarative decodes a kong.yaml or kong.json document (YAML is a
// superset of JSON) into JSON-shaped values. Errors are Kong's code 14.
func ParseDeclarative(raw []byte) (map[string]any, error) {
	var doc any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, declarativeError(map[string]any{"error": "failed parsing declarative configuration: " + err.Error()}, nil)
	}
	m, ok := jsonShape(doc).(map[string]any)
	if !ok {
		return nil, declarativeError(map[string]any{"error": "expected an object as declarative configuration"}, nil)
	}
	return m, nil
}

// LoadDeclarativeFile reads and validates a kong.yaml or kong.json file.
func LoadDeclarativeFile(path string) (*DeclarativeConfig, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("declarative_config: %w", err)
	}
	doc, err := ParseDeclarative(raw)
	if err == nil {
		var cfg *DeclarativeConfig
		if cfg, err = BuildDeclarative(doc, false); err == nil {
			return cfg, nil
		}
	}
	return nil, fmt.Errorf("declarative_config %s: %w", path, err)
}

// jsonShape converts decoded YAML into the shapes encoding/json produces:
// string-keyed maps, float64 numbers.
func jsonShape(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = jsonShape(e)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = jsonShape(e)
		}
		return m
	case []any:
		for i, e := range t {
			t[i] = jsonShape(e)
		}
		return t
	case int:
		return float64(t)
	case int64:
		return float64(t)
	case uint64:
		return float64(t)
	default:
		return v
	}
}

// Kong's deterministic ids for declarative entities: a version 5 UUID of
// the entity's endpoint key, in a namespace derived from the entity kind
// (kong/db/schema/others/declarative_config.lua), so the same file gives
// the same ids here as in a DB-less Kong.
var (
	declarativeNamespace = uuid.MustParse("fd02801f-0957-4a15-a55a-c8d9606f30b5")
	defaultWorkspaceID   = "0dc6f45b-8f8d-40d2-a504-473544ee190b"
)

func declarativeID(kind, key string) string {
	space := uuid.NewSHA1(declarativeNamespace, []byte(kind))
	return uuid.NewSHA1(space, []byte(key)).String()
}

// declBuilder validates a document entity by entity, collecting Kong's
// error table.
type declBuilder struct {
	now  float64
	errs *declErrors
	out  *DeclarativeConfig
	// services and upstreams by id and by name, for references
	services  map[string]*Service
	upstreams map[string]*Upstream
}

// BuildDeclarative validates a decoded document and returns its entities.
// Any invalid entity anywhere fails the whole document with Kong's code 14
// error; with flatten, the error also lists each invalid entity in Kong's
// flattened_errors form.
func BuildDeclarative(doc map[string]any, flatten bool) (*DeclarativeConfig, error) {
	b := &declBuilder{
		now:      nowSeconds(),
		errs:     newDeclErrors(),
		out:      &DeclarativeConfig{},
		services: map[string]*Service{}, upstreams: map[string]*Upstream{},
	}
	migrateFormatVersion(doc)
	b.checkTopLevel(doc)
	services := b.list(doc, "services")
	for i, raw := range services {
		b.service(raw, i)
	}
	upstreams := b.list(doc, "upstreams")
	for i, raw := range upstreams {
		b.upstream(raw, i)
	}
	for i, raw := range b.list(doc, "routes") {
		b.route(raw, b.errs.at(nil, "routes", i), nil)
	}
	for i, raw := range b.list(doc, "targets") {
		b.target(raw, b.errs.at(nil, "targets", i), nil)
	}
	if b.errs.empty() {
		b.checkUniqueness()
	}
	if !b.errs.empty() {
		return nil, b.errs.err(flatten)
	}
	return b.out, nil
}

func (b *declBuilder) checkTopLevel(doc map[string]any) {
	switch v := doc["_format_version"].(type) {
	case nil:
		b.errs.top("_format_version", "required field missing")
	case string:
		if v != DeclarativeFormatVersion {
			b.errs.top("_format_version", "expected one of: "+strings.Join(DeclarativeFormatVersions, ", "))
		}
	default:
		b.errs.top("_format_version", "expected a string")
	}
	if t, present := doc["_transform"]; present && t != nil {
		if _, ok := t.(bool); !ok {
			b.errs.top("_transform", "expected a boolean")
		}
	}
	for k, v := range doc {
		switch {
		case slices.Contains(declarativeMeta, k), k == "services", k == "routes", k == "upstreams", k == "targets":
		case slices.Contains(unsupportedKinds, k):
			if nonEmpty(v) {
				b.errs.top(k, unsupportedListMessage(k))
			}
		default:
			b.errs.top(k, "unknown field")
		}
	}
}

// list returns the entity list under key, recording an error when it is
// not a list.
func (b *declBuilder) list(doc map[string]any, key string) []any {
	v, ok := doc[key]
	if !ok || v == nil {
		return nil
	}
	l, ok := v.([]any)
	if !ok {
		b.errs.top(key, "expected an array")
		return nil
	}
	return l
}

// entityInput returns an element of an entity list as a fresh map, and its
// untouched copy for error reports.
func entityInput(raw any) (in, orig map[string]any, ok bool) {
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, nil, false
	}
	return schema.Clone(m).(map[string]any), m, true
}

// takeChildren removes a nested entity list from in; non-lists are left
// for the schema to report as unknown fields.
func takeChildren(in map[string]any, key string) []any {
	l, ok := in[key].([]any)
	if ok {
		delete(in, key)
	}
	return l
}

// process validates one entity with its schema, filling its id (Kong's
// deterministic one when it has a key), defaults and timestamps. It
// returns nil when the entity is invalid; the violations are then in e.
func (b *declBuilder) process(s *schema.Schema, in map[string]any, e *declEntity, idKey string) map[string]any {
	if plugins, ok := in["plugins"]; ok {
		delete(in, "plugins")
		if nonEmpty(plugins) {
			e.field("plugins", unsupportedListMessage("plugins"))
		}
	}
	if in["id"] == nil && idKey != "" {
		in["id"] = declarativeID(s.Name, idKey)
	}
	m, verr := s.Process(in, schema.Insert)
	if verr != nil {
		e.violations(verr)
		return nil
	}
	if !e.ok() {
		return nil
	}
	fillAuto(m, b.now, true)
	return m
}

// entityOf validates in and decodes it; nil when it is invalid (the
// errors are then in e).
func entityOf[T any](b *declBuilder, s *schema.Schema, in map[string]any, e *declEntity, idKey string) *T {
	m := b.process(s, in, e, idKey)
	if m == nil {
		return nil
	}
	v, err := decodeInto[T](m)
	if err != nil {
		e.entity("invalid entity: " + err.Error())
		return nil
	}
	return v
}

func nameKey(in map[string]any) string {
	s, _ := in["name"].(string)
	return s
}

func (b *declBuilder) service(raw any, i int) {
	e := b.errs.at(nil, "services", i)
	in, orig, ok := entityInput(raw)
	if !ok {
		e.entity("expected a record")
		return
	}
	e.input(orig, nil)
	routes := takeChildren(in, "routes")
	key := nameKey(in)
	if key == "" {
		key = "@" + e.path // unnamed: stable across loads of the same file
	}
	s := entityOf[Service](b, ServiceSchema, in, e, key)
	if s != nil && s.ClientCertificate != nil {
		e.entity("invalid reference 'client_certificate: " + s.ClientCertificate.ID + "' (no such entry in 'certificates')")
		s = nil
	}
	if s != nil {
		b.out.Services = append(b.out.Services, s)
		b.services[s.ID] = s
		if n := s.NameOrEmpty(); n != "" {
			b.services[n] = s
		}
	}
	for j, r := range routes {
		var parent *ForeignKey
		if s != nil {
			parent = &ForeignKey{ID: s.ID}
		} else if id, ok := in["id"].(string); ok {
			parent = &ForeignKey{ID: id}
		}
		b.route(r, b.errs.at(e, "routes", j), parent)
	}
}

func (b *declBuilder) upstream(raw any, i int) {
	e := b.errs.at(nil, "upstreams", i)
	in, orig, ok := entityInput(raw)
	if !ok {
		e.entity("expected a record")
		return
	}
	e.input(orig, nil)
	targets := takeChildren(in, "targets")
	u := entityOf[Upstream](b, UpstreamSchema, in, e, nameKey(in))
	if u != nil {
		b.out.Upstreams = append(b.out.Upstreams, u)
		b.upstreams[u.ID] = u
		b.upstreams[u.Name] = u
	}
	for j, t := range targets {
		var parent *ForeignKey
		if u != nil {
			parent = &ForeignKey{ID: u.ID}
		}
		b.target(t, b.errs.at(e, "targets", j), parent)
	}
}

// reference resolves a foreign key written as a name or id string, or as
// {"id": ...} / {"name": ...}, against the entities of the file.
func reference[T any](in map[string]any, field, kind string, known map[string]*T, id func(*T) string, e *declEntity) (*ForeignKey, bool) {
	v, present := in[field]
	if !present || v == nil {
		return nil, true
	}
	var key string
	switch t := v.(type) {
	case string:
		key = t
	case map[string]any:
		if s, ok := t["id"].(string); ok {
			key = s
		} else if s, ok := t["name"].(string); ok && len(t) == 1 {
			key = s
		} else {
			return nil, true // let the schema report the shape
		}
	default:
		return nil, true
	}
	if found, ok := known[key]; ok {
		return &ForeignKey{ID: id(found)}, true
	}
	e.entity("invalid reference '" + field + ": " + key + "' (no such entry in '" + kind + "')")
	return nil, false
}

func (b *declBuilder) route(raw any, e *declEntity, parent *ForeignKey) {
	in, orig, ok := entityInput(raw)
	if !ok {
		e.entity("expected a record")
		return
	}
	e.input(orig, parent)
	if parent != nil {
		in["service"] = map[string]any{"id": parent.ID}
	} else {
		ref, ok := reference(in, "service", ServiceSchema.Name, b.services, func(s *Service) string { return s.ID }, e)
		if !ok {
			delete(in, "service")
		} else if ref != nil {
			in["service"] = map[string]any{"id": ref.ID}
		}
	}
	key := nameKey(in)
	if key == "" {
		key = "@" + e.path // unnamed: stable across loads of the same file
	}
	if rt := entityOf[Route](b, RouteSchema, in, e, key); rt != nil {
		b.out.Routes = append(b.out.Routes, rt)
	}
}

func (b *declBuilder) target(raw any, e *declEntity, parent *ForeignKey) {
	in, orig, ok := entityInput(raw)
	if !ok {
		e.entity("expected a record")
		return
	}
	e.input(orig, parent)
	if parent == nil {
		ref, ok := reference(in, "upstream", UpstreamSchema.Name, b.upstreams, func(u *Upstream) string { return u.ID }, e)
		if !ok {
			return
		}
		parent = ref
	}
	if parent == nil {
		e.field("upstream", "required field missing")
		return
	}
	in["upstream"] = map[string]any{"id": parent.ID}
	if s, ok := in["target"].(string); ok {
		if norm, ok := schema.NormalizeTarget(s); ok {
			in["target"] = norm
		}
	}
	key := ""
	if s, ok := in["target"].(string); ok {
		key = s + ":" + parent.ID + ":" + defaultWorkspaceID
	}
	if t := entityOf[Target](b, TargetSchema, in, e, key); t != nil {
		t.CreatedAt = nowMillis() // targets count milliseconds
		t.UpdatedAt = t.CreatedAt
		b.out.Targets = append(b.out.Targets, t)
	}
}

// checkUniqueness rejects two entities of a kind with the same id or name,
// and two targets of an upstream with the same address, with Kong's
// message keyed by the duplicate value.
func (b *declBuilder) checkUniqueness() {
	seen := map[string]bool{}
	// dup records the first of an entity's keys (name before id) that an
	// earlier entity of the kind already has
	dup := func(kind, scope string, keys ...[2]string) {
		for _, fv := range keys {
			field, value := fv[0], fv[1]
			if value == "" {
				continue
			}
			k := kind + "\x00" + field + "\x00" + scope + "\x00" + value
			if seen[k] {
				b.errs.uniqueViolation(kind, value, "uniqueness violation: '"+kind+"' entity with "+field+" set to '"+value+"' already declared")
				return
			}
			seen[k] = true
		}
	}
	for _, s := range b.out.Services {
		dup("services", "", [2]string{"name", s.NameOrEmpty()}, [2]string{"id", s.ID})
	}
	for _, rt := range b.out.Routes {
		dup("routes", "", [2]string{"name", rt.NameOrEmpty()}, [2]string{"id", rt.ID})
	}
	for _, u := range b.out.Upstreams {
		dup("upstreams", "", [2]string{"name", u.Name}, [2]string{"id", u.ID})
	}
	for _, t := range b.out.Targets {
		dup("targets", t.Upstream.ID, [2]string{"target", t.Target}, [2]string{"id", t.ID})
	}
}
