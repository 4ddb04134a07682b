package faultproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echo serves line echo on loopback until the test ends.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); _ = c.Close() }()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); <-done })
	return ln.Addr().String()
}

func start(t *testing.T) (*Proxy, net.Conn, *bufio.Reader) {
	t.Helper()
	p, err := New(echo(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	r := bufio.NewReader(c)
	// One round trip: the proxy has then accepted and tracked the link, so
	// a Cut or Freeze that follows reaches it.
	if got, err := roundTrip(t, c, r, "hello", 5*time.Second); err != nil || got != "hello\n" {
		t.Fatalf("first round trip: got %q, %v", got, err)
	}
	return p, c, r
}

func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader, line string, wait time.Duration) (string, error) {
	t.Helper()
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	defer func() { _ = c.SetReadDeadline(time.Time{}) }()
	return r.ReadString('\n')
}

func TestPassFreezeThaw(t *testing.T) {
	p, c, r := start(t)
	if got, err := roundTrip(t, c, r, "one", 5*time.Second); err != nil || got != "one\n" {
		t.Fatalf("passing: got %q, %v", got, err)
	}
	p.Freeze()
	// A frozen link answers nothing: the read deadline passes, the
	// connection stays open.
	if got, err := roundTrip(t, c, r, "two", 300*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("frozen: got %q, %v; want a read timeout", got, err)
	}
	if p.Links() != 1 {
		t.Fatalf("frozen link count %d, want 1 (still open)", p.Links())
	}
	p.Thaw()
	// What was sent while frozen arrives after the thaw, in order.
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, err := r.ReadString('\n'); err != nil || got != "two\n" {
		t.Fatalf("after thaw: got %q, %v; want the held line", got, err)
	}
}

func TestCutClosesAndReconnects(t *testing.T) {
	for _, frozen := range []bool{false, true} {
		p, c, r := start(t)
		if frozen {
			p.Freeze()
			_, _ = c.Write([]byte("held\n")) // a pump is now waiting on the freeze
		}
		p.Cut()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := r.ReadString('\n'); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("frozen=%v: read after cut: %v, want EOF or reset", frozen, err)
		}
		p.Thaw()
		c2, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		if got, err := roundTrip(t, c2, bufio.NewReader(c2), "again", 5*time.Second); err != nil || got != "again\n" {
			t.Fatalf("frozen=%v: reconnect: got %q, %v", frozen, got, err)
		}
		_ = c2.Close()
		if err := p.Close(); err != nil {
			t.Fatalf("closing: %v", err)
		}
	}
}

func TestCloseEndsFrozenLinks(t *testing.T) {
	p, c, _ := start(t)
	p.Freeze()
	_, _ = c.Write([]byte("held\n"))
	if err := p.Close(); err != nil {
		t.Fatalf("closing: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("closing twice: %v", err)
	}
	if n := p.Links(); n != 0 {
		t.Fatalf("%d links open after Close", n)
	}
	if _, err := net.Dial("tcp", p.Addr()); err == nil {
		t.Fatal("the proxy still accepts after Close")
	}
}

func TestDownRefusesUntilUp(t *testing.T) {
	p, c, r := start(t)
	p.Down()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadString('\n'); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read on a link of a downed proxy: %v, want EOF or reset", err)
	}
	c2, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := roundTrip(t, c2, bufio.NewReader(c2), "refused", 5*time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a new connection while down got %v, want it closed at once", err)
	}
	_ = c2.Close()
	p.Up()
	c3, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if got, err := roundTrip(t, c3, bufio.NewReader(c3), "back", 5*time.Second); err != nil || got != "back\n" {
		t.Fatalf("after Up: got %q, %v", got, err)
	}
}
