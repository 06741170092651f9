package admin

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// MaxConfigBytes caps POST /config bodies: a whole configuration is larger
// than one entity.
const MaxConfigBytes = 32 << 20

// postConfig serves POST /config, Kong's DB-less configuration endpoint:
// the body's services, routes, upstreams and targets replace the
// registry's whole content in one store batch. An invalid entity anywhere
// fails the request with Kong's code 14 (and, with ?flatten_errors=1, its
// flattened_errors list) and changes nothing: the proxy keeps serving the
// previous configuration.
func postConfig(c *call) error {
	raw, err := configDocument(c.r)
	if err != nil {
		return err
	}
	// the hash of the document that made the current content: a match is
	// answered before parsing, as Kong does (that document parsed already)
	sum := md5.Sum(raw)
	hash := hex.EncodeToString(sum[:])
	if c.r.URL.Query().Get("check_hash") == "1" && hash == c.reg.DeclarativeHash() {
		c.w.WriteHeader(http.StatusNotModified) // Kong's answer to an unchanged config
		return nil
	}
	doc, err := upstreams.ParseDeclarative(raw)
	if err != nil {
		return err
	}
	cfg, err := upstreams.BuildDeclarative(doc, truthy(c.r.URL.Query().Get("flatten_errors")))
	if err != nil {
		return err
	}
	cfg.Hash = hash
	if err := c.reg.ReplaceDeclarative(c.r.Context(), cfg); err != nil {
		return err
	}
	writeJSON(c.w, c.r, http.StatusCreated, configEntities(cfg))
	return nil
}

// truthy is Kong's reading of a boolean query option.
func truthy(v string) bool {
	switch strings.ToLower(v) {
	case "true", "1", "on", "yes":
		return true
	}
	return false
}

// configDocument extracts the declarative document from the request: a
// JSON body that is the document itself (it has _format_version), a
// "config" field holding YAML or JSON (JSON, form or multipart bodies), or
// a raw YAML body.
func configDocument(r *http.Request) ([]byte, error) {
	raw, err := readBody(r, MaxConfigBytes)
	if err != nil {
		return nil, err
	}
	expected := schema.Plain(http.StatusBadRequest, "expected a declarative configuration")
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, expected
	}
	mediaType, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mediaType {
	case "application/json":
		// only two top-level keys matter: decode no deeper (the document
		// itself is parsed once, by ParseDeclarative)
		var body map[string]json.RawMessage
		if err := json.Unmarshal(raw, &body); err != nil {
			return nil, schema.Plain(http.StatusBadRequest, "Cannot parse JSON body")
		}
		if _, isDoc := body["_format_version"]; isDoc {
			return raw, nil
		}
		var s string
		if field := body["config"]; len(field) > 0 && field[0] == '"' && json.Unmarshal(field, &s) == nil {
			return []byte(s), nil
		}
		return raw, nil
	case "application/x-www-form-urlencoded":
		values, err := url.ParseQuery(string(raw))
		if err != nil {
			return nil, schema.Plain(http.StatusBadRequest, "Cannot parse form body")
		}
		if s := values.Get("config"); s != "" {
			return []byte(s), nil
		}
		return nil, expected
	case "multipart/form-data":
		r.Body = io.NopCloser(bytes.NewReader(raw))
		r.Header.Set("Content-Type", mime.FormatMediaType(mediaType, params))
		if err := r.ParseMultipartForm(MaxConfigBytes); err != nil {
			return nil, schema.Plain(http.StatusBadRequest, "Cannot parse multipart body")
		}
		if s := r.MultipartForm.Value["config"]; len(s) > 0 && s[0] != "" {
			return []byte(s[0]), nil
		}
		if fs := r.MultipartForm.File["config"]; len(fs) > 0 {
			f, err := fs[0].Open()
			if err == nil {
				defer f.Close()
				return io.ReadAll(io.LimitReader(f, MaxConfigBytes))
			}
		}
		return nil, expected
	case "application/yaml", "text/yaml", "application/x-yaml", "text/x-yaml":
		return raw, nil
	default:
		return nil, &schema.Error{Status: http.StatusUnsupportedMediaType}
	}
}

// configEntities is Kong's answer to a successful POST /config: the
// loaded entities by kind, then by id.
func configEntities(cfg *upstreams.DeclarativeConfig) map[string]any {
	out := map[string]any{}
	add := func(kind, id string, e any) {
		m, _ := out[kind].(map[string]any)
		if m == nil {
			m = map[string]any{}
			out[kind] = m
		}
		m[id] = e
	}
	for _, s := range cfg.Services {
		add("services", s.ID, s)
	}
	for _, rt := range cfg.Routes {
		add("routes", rt.ID, rt)
	}
	for _, u := range cfg.Upstreams {
		add("upstreams", u.ID, u)
	}
	for _, t := range cfg.Targets {
		add("targets", t.ID, t)
	}
	return out
}

// getConfig serves GET /config: the registry's content as a kong.yaml
// (_format_version 3.0 and _transform false as Kong's export writes them,
// then flat entity lists in id order), in Kong's {"config": "<yaml>"}.
func getConfig(c *call) error {
	doc := yaml.Node{Kind: yaml.MappingNode}
	addKey := func(k string, v any) {
		var node yaml.Node
		if err := node.Encode(v); err == nil {
			doc.Content = append(doc.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, &node)
		}
	}
	addKey("_format_version", upstreams.DeclarativeFormatVersion)
	addKey("_transform", false) // as Kong's export: nothing to transform when loaded back
	export := c.reg.Export()
	for _, kind := range []string{"services", "routes", "upstreams", "targets"} {
		list := export[kind]
		if len(list) == 0 {
			continue
		}
		sort.Slice(list, func(i, j int) bool { return list[i]["id"].(string) < list[j]["id"].(string) })
		addKey(kind, list)
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return err
	}
	writeJSON(c.w, c.r, http.StatusOK, map[string]any{"config": string(out)})
	return nil
}
