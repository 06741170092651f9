package kongproxy

import (
	"strconv"
	"sync/atomic"
)

// portTexts remembers the decimal text of the port requests arrive on
// (X-Forwarded-Port), so that a request does not format it again: a
// handler serves one or a few listeners.
type portTexts struct {
	last atomic.Pointer[portText]
}

// portText is one port and its text.
type portText struct {
	port int
	text string
}

// text returns port in decimal, "" for 0.
func (c *portTexts) text(port int) string {
	if port == 0 {
		return ""
	}
	if t := c.last.Load(); t != nil && t.port == port {
		return t.text
	}
	t := &portText{port: port, text: strconv.Itoa(port)}
	c.last.Store(t)
	return t.text
}
