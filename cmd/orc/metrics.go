package main

import (
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// processRegistry returns a metrics registry with the Go runtime's and
// the process's collectors.
func processRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// serveMetrics serves reg's /metrics on ln, behind token when it is set,
// with whatever routes adds (when not nil); Close on the server ends it.
func serveMetrics(ln net.Listener, reg *prometheus.Registry, token string, routes func(*http.ServeMux)) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("/metrics", requireToken(token, promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	if routes != nil {
		routes(mux)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	return srv
}

// requireToken lets through only requests that present token as a bearer
// token; with no token, every request.
func requireToken(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "a metrics token is required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// advertised returns the host:port that Prometheus reaches a listener on:
// host when given, else the listener's own host, else (it listens on every
// address) the address this machine reaches peer from (the database: on a
// machine with several networks, as a Ray node container on the warm
// networks, the one Orc's services and Prometheus share), else its first
// address that is not a loopback one.
func advertised(addr net.Addr, host, peer string) (string, error) {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return addr.String(), nil
	}
	port := strconv.Itoa(tcp.Port)
	if host != "" {
		return net.JoinHostPort(host, port), nil
	}
	if !tcp.IP.IsUnspecified() {
		return net.JoinHostPort(tcp.IP.String(), port), nil
	}
	if peer != "" {
		// A UDP "connection" sends nothing: it only picks the route.
		if c, err := net.Dial("udp", peer); err == nil {
			ip := c.LocalAddr().(*net.UDPAddr).IP
			c.Close()
			if !ip.IsUnspecified() {
				return net.JoinHostPort(ip.String(), port), nil
			}
		}
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", fmt.Errorf("metrics address: %w", err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() && n.IP.To4() != nil {
			return net.JoinHostPort(n.IP.String(), port), nil
		}
	}
	return net.JoinHostPort("127.0.0.1", port), nil
}

// databasePeer returns the host:port of a database URL, "" when it has
// none (a Unix socket).
func databasePeer(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	return net.JoinHostPort(u.Hostname(), port)
}
