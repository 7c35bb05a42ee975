// Command echo runs the C echo server plugin (examples/c/echo.c) on the awake
// reactor and drives it from Go's net package: -conns connections at once,
// each sending -msgs messages of -size bytes and checking every byte that
// comes back.
//
//	echo -plugin build/examples/echo.so -conns 100 -msgs 100 -size 64
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"time"

	"github.com/awake-rt/awake"
)

func main() {
	plugin := flag.String("plugin", "build/examples/echo.so", "path of the echo plugin")
	conns := flag.Int("conns", 100, "concurrent connections")
	msgs := flag.Int("msgs", 100, "messages per connection")
	size := flag.Int("size", 64, "bytes per message")
	flag.Parse()
	if err := run(*plugin, *conns, *msgs, *size); err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
}

// freePort asks the kernel for an unused loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func run(plugin string, conns, msgs, size int) error {
	rt, err := awake.New()
	if err != nil {
		return err
	}
	defer rt.Close()
	p, err := rt.Load(plugin)
	if err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	server, err := p.Spawn("echo_serve", fmt.Appendf(nil, "%d %d", port, conns))
	if err != nil {
		return err
	}
	start := time.Now()
	if err := Clients(fmt.Sprintf("127.0.0.1:%d", port), conns, msgs, size); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := server.Await(ctx)
	if err != nil {
		return err
	}
	took := time.Since(start)
	total := conns * msgs
	fmt.Printf("server: %s\n", out)
	fmt.Printf("go client: %d connections x %d messages x %d bytes verified in %v (%.0f requests/s)\n",
		conns, msgs, size, took.Round(time.Millisecond), float64(total)/took.Seconds())
	s := rt.Stats()
	fmt.Printf("counters: spawned=%d polled=%d woken=%d completed=%d failed=%d\n", s.Spawned, s.Polled, s.Woken, s.Completed, s.Failed)
	return nil
}

// Clients opens conns connections to addr at once; each sends msgs messages
// of size random bytes, one at a time, and checks each echo.
func Clients(addr string, conns, msgs, size int) error {
	var wg sync.WaitGroup
	errs := make([]error, conns)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = client(addr, msgs, size)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func client(addr string, msgs, size int) error {
	var c net.Conn
	var err error
	for try := 0; try < 50; try++ { // the server task may not be listening yet
		if c, err = net.Dial("tcp", addr); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	msg, got := make([]byte, size), make([]byte, size)
	for range msgs {
		for i := range msg {
			msg[i] = byte(rand.Uint32())
		}
		if _, err := c.Write(msg); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, got); err != nil {
			return err
		}
		if !bytes.Equal(msg, got) {
			return errors.New("echo returned different bytes")
		}
	}
	return c.(*net.TCPConn).CloseWrite()
}
