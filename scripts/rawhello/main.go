// Command rawhello is the baseline of the benchmarks: plain net/http
// answering "Hello" to every request, with the same http.Server settings
// as hwebserver, so that a comparison measures only hwebserver's own layer.
//
//	go run ./scripts/rawhello -addr 127.0.0.1:0
//
// It prints "rawhello: serving on http://ADDR/" once it listens.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen `address`")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("rawhello: serving on http://%s/\n", ln.Addr())
	srv := &http.Server{
		Handler:           http.HandlerFunc(hello),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    1 << 20,
	}
	log.Fatal(srv.Serve(ln))
}

// hello sends what hwebserver.Response("Hello") sends.
func hello(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, "Hello")
}
