package upstreams

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// named is an entity addressed by id or by an optional unique name:
// services and routes.
type named interface {
	*Service | *Route
	entityID() string
	entityName() string
	// identity points at the entity's id and created_at.
	identity() (*string, *int64)
	sansUpdatedAt() any
}

func (s *Service) entityID() string            { return s.ID }
func (s *Service) entityName() string          { return s.NameOrEmpty() }
func (s *Service) identity() (*string, *int64) { return &s.ID, &s.CreatedAt }
func (r *Route) entityID() string              { return r.ID }
func (r *Route) entityName() string            { return r.NameOrEmpty() }
func (r *Route) identity() (*string, *int64)   { return &r.ID, &r.CreatedAt }

// namedEntityFields returns the fields of a service or route: id,
// timestamps in integer seconds and the optional unique name, then rest.
func namedEntityFields(rest []schema.Field) []schema.Field {
	return append([]schema.Field{
		{Name: "id", Type: schema.String, UUID: true, Auto: true},
		{Name: "created_at", Type: schema.Integer, Auto: true},
		{Name: "updated_at", Type: schema.Integer, Auto: true},
		{Name: "name", Type: schema.String, Unique: true, Check: schema.CheckUTF8Name},
	}, rest...)
}

// namedIndex holds the entities of one kind by id and by name. Stored
// entities are never modified: a write replaces the pointer, so snapshots
// may share them.
type namedIndex[P named] struct {
	byID   map[string]P
	byName map[string]string
}

func newNamedIndex[P named]() namedIndex[P] {
	return namedIndex[P]{byID: map[string]P{}, byName: map[string]string{}}
}

// lookup finds an entity by id (a UUID key) or name.
func (x *namedIndex[P]) lookup(key string) P {
	if schema.IsUUID(key) {
		return x.byID[key]
	}
	if id, ok := x.byName[key]; ok {
		return x.byID[id]
	}
	return nil
}

func (x *namedIndex[P]) put(e P) {
	if old := x.byID[e.entityID()]; old != nil && old.entityName() != "" {
		delete(x.byName, old.entityName())
	}
	x.byID[e.entityID()] = e
	if n := e.entityName(); n != "" {
		x.byName[n] = e.entityID()
	}
}

func (x *namedIndex[P]) remove(e P) {
	delete(x.byID, e.entityID())
	if n := e.entityName(); n != "" && x.byName[n] == e.entityID() {
		delete(x.byName, n)
	}
}

// nameTaken reports whether another entity than e holds e's name.
func (x *namedIndex[P]) nameTaken(e P) bool {
	n := e.entityName()
	if n == "" {
		return false
	}
	id, ok := x.byName[n]
	return ok && id != e.entityID()
}

// namedKind is what the generic writes need to know of one kind.
type namedKind[P named] struct {
	schema *schema.Schema
	index  func(r *Registry) *namedIndex[P]
	// decode builds the typed entity from a valid map.
	decode func(m map[string]any) (P, error)
	// parent is the id of the record the entity belongs to in the store
	// ("" for roots).
	parent func(e P) string
	// check runs under the write lock before the entity is stored: foreign
	// keys and other cross-entity rules.
	check func(r *Registry, e P) error
}

func (k *namedKind[P]) record(e P) (Record, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return Record{}, err
	}
	return Record{Kind: k.schema.Name, ID: e.entityID(), Parent: k.parent(e), Key: e.entityName(), Data: data}, nil
}

// checkKey rejects URL keys that are neither a UUID nor a valid name
// (Kong's "invalid unique name", code 10).
func (k *namedKind[P]) checkKey(key string) error {
	if schema.IsUUID(key) {
		return nil
	}
	if msg := schema.CheckUTF8Name(key); msg != "" {
		return schema.InvalidUnique("name", msg)
	}
	return nil
}

func nowSeconds() float64 { return float64(time.Now().Unix()) }

// create inserts an entity (POST). r.mu must be held.
func (k *namedKind[P]) create(ctx context.Context, r *Registry, in map[string]any) (P, error) {
	m, verr := k.schema.Process(in, schema.Insert)
	if verr != nil {
		return nil, schema.SchemaViolation(verr)
	}
	fillAuto(m, nowSeconds(), true)
	e, err := k.decode(m)
	if err != nil {
		return nil, err
	}
	if k.index(r).byID[e.entityID()] != nil {
		return nil, primaryKeyViolation(e.entityID())
	}
	if err := k.store(ctx, r, e); err != nil {
		return nil, err
	}
	return e, nil
}

// upsert creates or fully replaces the entity addressed by key (PUT); the
// key wins over the body. r.mu must be held.
func (k *namedKind[P]) upsert(ctx context.Context, r *Registry, key string, in map[string]any) (P, error) {
	if err := k.checkKey(key); err != nil {
		return nil, err
	}
	if schema.IsUUID(key) {
		in["id"] = key
	} else {
		in["name"] = key
	}
	m, verr := k.schema.Process(in, schema.Upsert)
	if verr != nil {
		return nil, schema.SchemaViolation(verr)
	}
	existing := k.index(r).lookup(key)
	if existing != nil && m["id"] == nil {
		m["id"] = existing.entityID()
	}
	now := nowSeconds()
	fillAuto(m, now, true)
	m["updated_at"] = now
	e, err := k.decode(m)
	if err != nil {
		return nil, err
	}
	if existing != nil && existing.entityID() != e.entityID() {
		return nil, schema.UniqueViolation(map[string]any{"name": e.entityName()})
	}
	if err := k.store(ctx, r, e); err != nil {
		return nil, err
	}
	return e, nil
}

// update applies a partial update (PATCH) to the entity addressed by key.
// r.mu must be held.
func (k *namedKind[P]) update(ctx context.Context, r *Registry, key string, patch map[string]any) (P, error) {
	if err := k.checkKey(key); err != nil {
		return nil, err
	}
	existing := k.index(r).lookup(key)
	if existing == nil {
		return nil, notFoundByKey(key)
	}
	k.schema.ApplyShorthands(patch)
	delete(patch, "id")
	base, err := toMap(existing)
	if err != nil {
		return nil, err
	}
	m, verr := k.schema.Process(k.schema.Merge(base, patch), schema.Update)
	if verr != nil {
		return nil, schema.SchemaViolation(verr)
	}
	m["updated_at"] = nowSeconds()
	e, err := k.decode(m)
	if err != nil {
		return nil, err
	}
	if err := k.store(ctx, r, e); err != nil {
		return nil, err
	}
	return e, nil
}

// store checks e against the other entities, writes it and publishes the
// new gateway snapshot. r.mu must be held.
func (k *namedKind[P]) store(ctx context.Context, r *Registry, e P) error {
	idx := k.index(r)
	if idx.nameTaken(e) {
		return schema.UniqueViolation(map[string]any{"name": e.entityName()})
	}
	if k.check != nil {
		if err := k.check(r, e); err != nil {
			return err
		}
	}
	rec, err := k.record(e)
	if err != nil {
		return err
	}
	if err := r.apply(ctx, Batch{Put: []Record{rec}}); err != nil {
		return err
	}
	idx.put(e)
	r.version.Add(1)
	r.publishGatewayLocked()
	return nil
}

// remove deletes the entity addressed by key; a missing one is not an
// error (Kong answers 204). r.mu must be held.
func (k *namedKind[P]) remove(ctx context.Context, r *Registry, key string, guard func(e P) error) error {
	if err := k.checkKey(key); err != nil {
		return err
	}
	idx := k.index(r)
	e := idx.lookup(key)
	if e == nil {
		return nil
	}
	if guard != nil {
		if err := guard(e); err != nil {
			return err
		}
	}
	if err := r.apply(ctx, Batch{Delete: []RecordRef{{Kind: k.schema.Name, ID: e.entityID()}}}); err != nil {
		return err
	}
	idx.remove(e)
	r.version.Add(1)
	r.publishGatewayLocked()
	return nil
}

// foreignKeyViolation is Kong's code 4 for a reference to a missing entity.
func foreignKeyViolation(field, parent, id string) error {
	key := map[string]any{"id": id}
	return &schema.Error{Status: http.StatusBadRequest, Code: schema.CodeForeignKeyViolation, Name: "foreign key violation",
		Message: "the foreign key '" + schema.LuaTable(key) + "' does not reference an existing '" + parent + "' entity.",
		Fields:  map[string]any{field: key}}
}

// referencedBy is Kong's code 4 for deleting an entity others reference.
func referencedBy(parent, child string) error {
	return &schema.Error{Status: http.StatusBadRequest, Code: schema.CodeForeignKeyViolation, Name: "foreign key violation",
		Message: "an existing '" + child + "' entity references this '" + parent + "' entity",
		Fields:  map[string]any{"@referenced_by": child}}
}

func decodeInto[T any](m map[string]any) (*T, error) {
	e := new(T)
	if err := remarshal(m, e); err != nil {
		return nil, err
	}
	return e, nil
}
