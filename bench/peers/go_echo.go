// SPDX-License-Identifier: BSD-2-Clause
// go_echo.go - the Go echo server, as a benchmark peer for
// `sockit compare`.  Built with Debian's golang-go.
//
// usage: go_echo PORT     (0 lets the kernel pick a free port)
//
// The echo every Go tutorial shows: net.Listen, a goroutine per
// connection, io.Copy(conn, conn).  Go's runtime does the non-blocking
// I/O on epoll underneath (the netpoller) and runs the goroutines on
// GOMAXPROCS threads (by default, the CPUs this process may use).  Go
// sets TCP_NODELAY on every TCP connection by default (net.TCPConn's
// SetNoDelay: "The default is true"); it is set again here so that the
// configuration is visible, as sockit sets it.
//
// When ready it prints "listening on 127.0.0.1 port N" to stderr, the
// line sockit's own servers print, so one harness can start both.
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

func serve(conn *net.TCPConn) {
	defer conn.Close()
	conn.SetNoDelay(true)
	// A reset client ends the copy with an error: not the server's error.
	io.Copy(conn, conn)
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go_echo PORT")
		os.Exit(2)
	}
	port, err := strconv.Atoi(os.Args[1])
	if err != nil || port < 0 || port > 65535 {
		fmt.Fprintln(os.Stderr, "usage: go_echo PORT")
		os.Exit(2)
	}
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_echo:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "listening on 127.0.0.1 port %d\n", ln.Addr().(*net.TCPAddr).Port)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		os.Exit(0)
	}()
	for {
		conn, err := ln.AcceptTCP()
		if err != nil {
			fmt.Fprintln(os.Stderr, "go_echo: accept:", err)
			continue
		}
		go serve(conn)
	}
}
