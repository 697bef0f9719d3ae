package plugin

import (
	"bytes"
	"context"
	"testing"
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
		{"http", ExitInvalid, ""}, // not yet
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
