package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"sort"

	"github.com/caddyserver/caddy/v2"
)

// DefaultTokenName is the name the audit log gives the unnamed token
// (the `token` option); named tokens (`tokens`) keep their own names.
const DefaultTokenName = "default"

// namedToken is one accepted token, kept as its SHA-256 digest so that
// every comparison takes the same time whatever the lengths.
type namedToken struct {
	name   string
	digest [sha256.Size]byte
}

// tokenSet is the tokens a guard accepts; several at once let a token be
// rotated without downtime (add the new one, move the clients, remove the
// old one).
type tokenSet []namedToken

// expandTokens expands placeholders ({env.*}, {file.*}) in the configured
// tokens. A token that expands to nothing (an unset variable, an unreadable
// file) is an error: it would otherwise silently leave the API open.
func expandTokens(unnamed *string, named map[string]string) (tokenSet, error) {
	repl := caddy.NewReplacer()
	var set tokenSet
	add := func(name, configured string) (string, error) {
		value := repl.ReplaceAll(configured, "")
		if value == "" {
			return "", fmt.Errorf("token %q is empty once expanded; refusing to serve the Admin API without one", configured)
		}
		set = append(set, namedToken{name: name, digest: sha256.Sum256([]byte(value))})
		return value, nil
	}
	if *unnamed != "" {
		value, err := add(DefaultTokenName, *unnamed)
		if err != nil {
			return nil, err
		}
		*unnamed = value
	}
	names := make([]string, 0, len(named))
	for name := range named {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if name == "" || (name == DefaultTokenName && *unnamed != "") {
			return nil, fmt.Errorf("token name %q is empty or taken by the unnamed token", name)
		}
		if _, err := add(name, named[name]); err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
	}
	return set, nil
}

// match returns the name of the token presented, and whether one matched.
// Every token is compared, in constant time, so the answer's timing tells
// neither which token nor how much of one was right.
func (s tokenSet) match(presented string) (string, bool) {
	digest := sha256.Sum256([]byte(presented))
	matched := -1
	for i := range s {
		if subtle.ConstantTimeCompare(digest[:], s[i].digest[:]) == 1 {
			matched = i
		}
	}
	if matched < 0 {
		return "", false
	}
	return s[matched].name, true
}
