package upstreams

import (
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// Target is one host:port of an upstream with its weight: Kong's Target
// entity. Target holds the normalised form (default port 8000, IPv6
// expanded and bracketed).
type Target struct {
	ID        string     `json:"id"`
	CreatedAt float64    `json:"created_at"`
	UpdatedAt float64    `json:"updated_at"`
	Upstream  ForeignKey `json:"upstream"`
	Target    string     `json:"target"`
	Weight    int        `json:"weight"`
	Tags      []string   `json:"tags"`
}

// TargetSchema declares the target entity (Kong 3.x targets.lua).
var TargetSchema = &schema.Schema{
	Name:        "targets",
	EndpointKey: "target",
	Fields: []schema.Field{
		{Name: "id", Type: schema.String, UUID: true, Auto: true},
		{Name: "created_at", Type: schema.Number, Auto: true},
		{Name: "updated_at", Type: schema.Number, Auto: true},
		{Name: "upstream", Type: schema.Foreign, Reference: "upstreams", Required: true},
		{Name: "target", Type: schema.String, Required: true, Check: checkTarget},
		{Name: "weight", Type: schema.Integer, Default: 100.0, Between: schema.Between(0, 65535)},
		schema.TagsField(),
	},
}

// invalidTargetMessage is the DAO's message for a target that is neither a
// hostname nor an IP address (it does not quote the value).
const invalidTargetMessage = "Invalid target; not a valid hostname or ip address"

func checkTarget(v any) string {
	if _, ok := schema.NormalizeTarget(v.(string)); !ok {
		return invalidTargetMessage
	}
	return ""
}
