package log

import (
	"bytes"
	"io"
	"net"
	"testing"
)

// TestLogChunkWriteToTCP sends chunks of a real segment file over loopback TCP (sendfile
// path on Linux) and checks the bytes, including chunks that do not start at position 0.
func TestLogChunkWriteToTCP(t *testing.T) {
	l := openLog(t, t.TempDir(), &Options{Logger: quiet})
	var want []byte
	for i := 0; i < 40; i++ {
		b := mkBatch(3, 700, int64(i), byte(i))
		mustAppend(t, l, b)
		want = append(want, b...)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		got <- b
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	var sent []byte
	for off := int64(0); off < l.EndOffset(); {
		c, err := l.Read(off, 9000, l.EndOffset())
		if err != nil {
			t.Fatal(err)
		}
		n, err := c.WriteTo(conn)
		if err != nil || n != int64(c.Len()) {
			t.Fatalf("WriteTo: %d of %d: %v", n, c.Len(), err)
		}
		b, _ := c.Bytes()
		sent = append(sent, b...)
		c.Release()
		last, _, _ := lastOffsetOf(b)
		off = last + 1
	}
	conn.Close()
	if r := <-got; !bytes.Equal(r, sent) || !bytes.Equal(sent, want) {
		t.Fatalf("received %d bytes, sent %d, want %d", len(r), len(sent), len(want))
	}
}
