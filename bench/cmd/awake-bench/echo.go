//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/awake-rt/awake"
)

// echoBench measures requests per second of an echo server (awake's C
// echo_serve, or a Go net server) driven by the same Go client: f.conns
// connections, each sending f.size bytes and reading them back in a loop.
// The server runs in a child process (`measure echo-server`) so that the
// client's goroutines and the server's threads are separate processes for
// both implementations.
func echoBench(f measureFlags) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.dur+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, "measure", "echo-server", "-impl", f.impl,
		"-conns", fmt.Sprint(f.conns), "-echo", f.echoSO, "-workers", fmt.Sprint(f.workers))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the %s echo server: %w", f.impl, err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return fmt.Errorf("the %s echo server printed no port: %w", f.impl, err)
	}
	var port int
	if _, err := fmt.Sscanf(line, "port %d", &port); err != nil {
		return fmt.Errorf("the %s echo server printed %q, want \"port N\"", f.impl, line)
	}
	rate, err := echoClient(port, f.conns, f.size, f.dur)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("the %s echo server failed: %w", f.impl, err)
		}
	case <-time.After(10 * time.Second):
		return fmt.Errorf("the %s echo server did not finish 10 s after its %d clients closed", f.impl, f.conns)
	}
	emit("echo", f.impl, rate, "req/s")
	return nil
}

// echoClient opens conns connections to 127.0.0.1:port and runs
// request/response loops; it returns requests per second over dur (after a
// warm-up of dur/5), then closes every connection.
func echoClient(port, conns, size int, dur time.Duration) (float64, error) {
	cs := make([]net.Conn, conns)
	for i := range cs {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			for _, c := range cs[:i] {
				c.Close()
			}
			return 0, fmt.Errorf("echo client: dialing 127.0.0.1:%d: %w", port, err)
		}
		cs[i] = c
	}
	var stop atomic.Bool
	var count atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := bytes.Repeat([]byte{byte('a' + i%26)}, size)
			buf := make([]byte, size)
			for !stop.Load() {
				if _, err := c.Write(msg); err != nil {
					errs <- err
					return
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(buf, msg) {
					errs <- fmt.Errorf("echo client: connection %d got %q back, sent %q", i, buf, msg)
					return
				}
				count.Add(1)
			}
		}()
	}
	time.Sleep(dur / 5)
	c0, t0 := count.Load(), time.Now()
	time.Sleep(dur)
	c1, el := count.Load(), time.Since(t0)
	stop.Store(true)
	wg.Wait()
	for _, c := range cs {
		c.Close()
	}
	select {
	case err := <-errs:
		return 0, err
	default:
	}
	return float64(c1-c0) / el.Seconds(), nil
}

// portLogger captures the port echo_serve logs ("listening on
// 127.0.0.1:<port>") and passes every record on to stderr at warn level.
type portLogger struct {
	slog.Handler
	port chan int
}

var listeningRE = regexp.MustCompile(`listening on 127\.0\.0\.1:(\d+)`)

func (h portLogger) Enabled(context.Context, slog.Level) bool { return true }

func (h portLogger) Handle(ctx context.Context, r slog.Record) error {
	if m := listeningRE.FindStringSubmatch(r.Message); m != nil {
		p, _ := strconv.Atoi(m[1])
		select {
		case h.port <- p:
		default:
		}
	}
	if r.Level >= slog.LevelWarn {
		return h.Handler.Handle(ctx, r)
	}
	return nil
}

// awakeEchoServer serves f.conns connections with the C echo_serve export
// (examples/c/echo.c) and exits when they are all closed.
func awakeEchoServer(f measureFlags) error {
	pl := portLogger{Handler: slog.NewTextHandler(os.Stderr, nil), port: make(chan int, 1)}
	rt, p, err := openAwake(f, f.echoSO, awake.WithLogger(slog.New(pl)))
	if err != nil {
		return err
	}
	defer rt.Close()
	t, err := p.Spawn("echo_serve", []byte(fmt.Sprintf("0 %d", f.conns)))
	if err != nil {
		return err
	}
	select {
	case port := <-pl.port:
		fmt.Printf("port %d\n", port)
	case <-t.Done():
		_, err := t.Result()
		return fmt.Errorf("echo_serve ended before listening: %v", err)
	case <-time.After(10 * time.Second):
		return fmt.Errorf("echo_serve did not log \"listening on 127.0.0.1:<port>\" within 10 s")
	}
	_, err = t.Await(context.Background())
	return err
}

// goEchoServer is the Go anchor: net.Listen, one goroutine per connection
// writing back whatever it reads, until f.conns connections have closed.
func goEchoServer(f measureFlags) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Printf("port %d\n", ln.Addr().(*net.TCPAddr).Port)
	var wg sync.WaitGroup
	for range f.conns {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			buf := make([]byte, 4096)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					if _, werr := c.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	return nil
}
