package plugin

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRunProtocol(t *testing.T) {
	t.Parallel()
	echo := func(ctx context.Context, in map[string]int) (map[string]int, error) { return in, nil }
	tests := []struct {
		protocol string
		code     int
		stdout   string
	}{
		{"", ExitOK, `{"a":1}` + "\n"},
		{"exec", ExitOK, `{"a":1}` + "\n"},
		{"grpc", ExitInvalid, ""},
	}
	for _, tt := range tests {
		t.Run("protocol="+tt.protocol, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.protocol, []string{`{"a":1}`}, nil, &stdout, &stderr, echo)
			if code != tt.code || stdout.String() != tt.stdout {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout %q",
					code, stdout.String(), stderr.String(), tt.code, tt.stdout)
			}
		})
	}
}

func TestHTTPProtocol(t *testing.T) {
	t.Parallel()
	type In struct {
		N int `json:"n"`
	}
	type Out struct {
		Double int `json:"double"`
	}
	calls := 0
	h := func(ctx context.Context, in In) (Out, error) {
		calls++
		switch in.N {
		case -1:
			return Out{}, Errorf(CodeInvalid, "n must not be negative")
		case 13:
			return Out{}, errors.New("unlucky")
		case 99:
			panic("boom")
		}
		return Out{Double: 2 * in.N}, nil
	}
	srv := httptest.NewServer(HTTPHandler(h))
	defer srv.Close()
	tests := []struct {
		name, body string
		status     int
		want       string
	}{
		{"ok", `{"n": 21}`, 200, `{"double":42}`},
		{"bad json", `{"n": `, 400, `"code":"invalid"`},
		{"invalid", `{"n": -1}`, 400, `"message":"n must not be negative"`},
		{"failed", `{"n": 13}`, 500, `{"error":{"code":"plugin_failed","message":"unlucky"}}`},
		{"panic", `{"n": 99}`, 500, `"message":"panic: boom"`},
		{"still serving", `{"n": 1}`, 200, `{"double":2}`},
	}
	for _, tt := range tests {
		resp, err := http.Post(srv.URL+"/invoke", "application/json", strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.want) {
			t.Errorf("%s: %d %s, want %d containing %s", tt.name, resp.StatusCode, body, tt.status, tt.want)
		}
	}
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", err, resp)
	}
	resp.Body.Close()
}

func TestServeStopsWithContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, "127.0.0.1:0", func(ctx context.Context, in int) (int, error) { return in, nil })
	}()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not stop")
	}
}
