// Package docs has no code: its test checks that README.md and the pages of
// docs/ hold together (every relative link and #anchor resolves, every page
// is linked from the README, the README stays short).
package docs
