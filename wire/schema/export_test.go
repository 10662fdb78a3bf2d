package schema

// CheckRest is Check that also returns the bytes after the body.
func CheckRest(key, v int16, body []byte) ([]byte, error) {
	m := &requests[key]
	c := checker{v: v, flex: v >= m.flexFrom}
	return c.structure(body, m.fields)
}
