package kongproxy

import "net/url"

// setPath sets a URL's path from its percent-encoded form, so escapes the
// router kept (an encoded slash, %2F) reach the upstream as they came.
func setPath(u *url.URL, escaped string) {
	path, err := url.PathUnescape(escaped)
	if err != nil {
		u.Path, u.RawPath = escaped, ""
		return
	}
	u.Path, u.RawPath = path, escaped
}
