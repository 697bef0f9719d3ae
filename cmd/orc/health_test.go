package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHealthCommand(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		w.Write([]byte(`{"status":"ok"}`)) //nolint:errcheck // a test server
	}))
	defer srv.Close()
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"health", srv.URL + "/readyz"}, &out, &errOut); code != 0 || out.String() != "{\"status\":\"ok\"}\n" {
		t.Errorf("healthy: exit %d, %q %q", code, out.String(), errOut.String())
	}
	status = http.StatusServiceUnavailable
	if code := run(context.Background(), []string{"health", srv.URL + "/readyz"}, &out, &errOut); code == 0 {
		t.Error("a 503 exits 0")
	}
	srv.Close()
	if code := run(context.Background(), []string{"health", srv.URL}, &out, &errOut); code == 0 {
		t.Error("no server exits 0")
	}
}
