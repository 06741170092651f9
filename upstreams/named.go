package upstreams

import (
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
	// check runs before the entity is stored, with r.mu held for reading:
	// foreign keys and other cross-entity rules.
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

// create checks an entity to insert (POST) and returns it with the change
// that stores it. r.mu must be held for reading.
func (k *namedKind[P]) create(r *Registry, in map[string]any) (P, change, error) {
	m, verr := k.schema.Process(in, schema.Insert)
	if verr != nil {
		return nil, change{}, schema.SchemaViolation(verr)
	}
	fillAuto(m, nowSeconds(), true)
	e, err := k.decode(m)
	if err != nil {
		return nil, change{}, err
	}
	if k.index(r).byID[e.entityID()] != nil {
		return nil, change{}, primaryKeyViolation(e.entityID())
	}
	return k.put(r, e)
}

// upsert checks the entity that creates or fully replaces the one
// addressed by key (PUT); the key wins over the body. r.mu must be held
// for reading.
func (k *namedKind[P]) upsert(r *Registry, key string, in map[string]any) (P, change, error) {
	if err := k.checkKey(key); err != nil {
		return nil, change{}, err
	}
	if schema.IsUUID(key) {
		in["id"] = key
	} else {
		in["name"] = key
	}
	m, verr := k.schema.Process(in, schema.Upsert)
	if verr != nil {
		return nil, change{}, schema.SchemaViolation(verr)
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
		return nil, change{}, err
	}
	if existing != nil && existing.entityID() != e.entityID() {
		return nil, change{}, schema.UniqueViolation(map[string]any{"name": e.entityName()})
	}
	return k.put(r, e)
}

// update checks a partial update (PATCH) of the entity addressed by key.
// r.mu must be held for reading.
func (k *namedKind[P]) update(r *Registry, key string, patch map[string]any) (P, change, error) {
	if err := k.checkKey(key); err != nil {
		return nil, change{}, err
	}
	existing := k.index(r).lookup(key)
	if existing == nil {
		return nil, change{}, notFoundByKey(key)
	}
	k.schema.ApplyShorthands(patch)
	delete(patch, "id")
	base, err := toMap(existing)
	if err != nil {
		return nil, change{}, err
	}
	m, verr := k.schema.Process(k.schema.Merge(base, patch), schema.Update)
	if verr != nil {
		return nil, change{}, schema.SchemaViolation(verr)
	}
	m["updated_at"] = nowSeconds()
	e, err := k.decode(m)
	if err != nil {
		return nil, change{}, err
	}
	return k.put(r, e)
}

// put checks e against the other entities and returns the change that
// stores it and publishes the new gateway snapshot. r.mu must be held for
// reading.
func (k *namedKind[P]) put(r *Registry, e P) (P, change, error) {
	if err := r.refuseManagedLocked(k.schema.Name, e.entityID(), e.entityName(), "update"); err != nil {
		return nil, change{}, err
	}
	if k.index(r).nameTaken(e) {
		return nil, change{}, schema.UniqueViolation(map[string]any{"name": e.entityName()})
	}
	if k.check != nil {
		if err := k.check(r, e); err != nil {
			return nil, change{}, err
		}
	}
	rec, err := k.record(e)
	if err != nil {
		return nil, change{}, err
	}
	return e, change{batch: Batch{Put: []Record{rec}}, install: func() {
		k.index(r).put(e)
		r.version.Add(1)
		r.publishGatewayLocked()
	}}, nil
}

// remove returns the change that deletes the entity addressed by key; a
// missing one is not an error (Kong answers 204) and changes nothing.
// r.mu must be held for reading.
func (k *namedKind[P]) remove(r *Registry, key string, guard func(e P) error) (change, error) {
	if err := k.checkKey(key); err != nil {
		return change{}, err
	}
	e := k.index(r).lookup(key)
	if e == nil {
		return change{}, nil
	}
	if err := r.refuseManagedLocked(k.schema.Name, e.entityID(), e.entityName(), "delete"); err != nil {
		return change{}, err
	}
	if guard != nil {
		if err := guard(e); err != nil {
			return change{}, err
		}
	}
	return change{batch: Batch{Delete: []RecordRef{{Kind: k.schema.Name, ID: e.entityID()}}}, install: func() {
		k.index(r).remove(e)
		r.version.Add(1)
		r.publishGatewayLocked()
	}}, nil
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
