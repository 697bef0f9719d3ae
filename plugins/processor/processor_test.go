package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/orc-gateway/orc/sdk/plugin"
)

func TestProcess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		out  string // the output JSON, or "" when err is set
		err  string
	}{
		{name: "sum", in: `{"data":[1,2,3,4,5],"operation":"sum"}`, out: `{"result":15,"operation":"sum","count":5}`},
		{name: "sum of empty", in: `{"data":[],"operation":"sum"}`, out: `{"result":0,"operation":"sum","count":0}`},
		{name: "mean", in: `{"data":[1,2,3,4],"operation":"mean"}`, out: `{"result":2.5,"operation":"mean","count":4}`},
		{name: "min", in: `{"data":[3,-1.5,2],"operation":"min"}`, out: `{"result":-1.5,"operation":"min","count":3}`},
		{name: "max", in: `{"data":[3,-1.5,2],"operation":"max"}`, out: `{"result":3,"operation":"max","count":3}`},
		{name: "sort", in: `{"data":[3,1,2,1],"operation":"sort"}`, out: `{"result":[1,1,2,3],"operation":"sort","count":4}`},
		{name: "sort of empty", in: `{"data":[],"operation":"sort"}`, out: `{"result":[],"operation":"sort","count":0}`},
		{name: "unknown operation", in: `{"data":[1],"operation":"median"}`,
			err: `unknown operation "median": want one of max, mean, min, sort, sum`},
		{name: "no operation", in: `{"data":[1]}`, err: "operation is required: one of max, mean, min, sort, sum"},
		{name: "no data", in: `{"operation":"sum"}`, err: "data is required: a list of numbers"},
		{name: "null data", in: `{"data":null,"operation":"sum"}`, err: "data is required: a list of numbers"},
		{name: "mean of empty", in: `{"data":[],"operation":"mean"}`,
			err: "mean of an empty list is undefined: data needs at least one number"},
		{name: "min of empty", in: `{"data":[],"operation":"min"}`,
			err: "min of an empty list is undefined: data needs at least one number"},
		{name: "max of empty", in: `{"data":[],"operation":"max"}`,
			err: "max of an empty list is undefined: data needs at least one number"},
		{name: "overflow", in: `{"data":[1e308,1e308],"operation":"sum"}`, err: "sum overflows a 64-bit float"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var in Input
			if err := json.Unmarshal([]byte(tt.in), &in); err != nil {
				t.Fatal(err)
			}
			out, err := process(context.Background(), in)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("process(%s) = %+v, %v; want error %q", tt.in, out, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("process(%s): %v", tt.in, err)
			}
			got, err := json.Marshal(out)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.out {
				t.Errorf("process(%s) = %s, want %s", tt.in, got, tt.out)
			}
		})
	}
}

func TestProcessDoesNotModifyInput(t *testing.T) {
	t.Parallel()
	data := []float64{3, 1, 2}
	if _, err := process(context.Background(), Input{Data: data, Operation: "sort"}); err != nil {
		t.Fatal(err)
	}
	if data[0] != 3 || data[1] != 1 || data[2] != 2 {
		t.Errorf("input changed to %v", data)
	}
}

// TestProcessMain runs the processor through the SDK, as its container does.
func TestProcessMain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"seed example", []string{`{"data": [1,2,3,4,5], "operation": "sum"}`}, 0,
			`{"result":15,"operation":"sum","count":5}` + "\n", ""},
		{"unknown operation", []string{`{"data": [1], "operation": "avg"}`}, plugin.ExitInvalid,
			"", `unknown operation "avg": want one of max, mean, min, sort, sum` + "\n"},
		{"not numbers", []string{`{"data": ["a"], "operation": "sum"}`}, plugin.ExitInvalid,
			"", "decode input: json: cannot unmarshal string into Go struct field Input.data of type float64\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := plugin.Main(context.Background(), tt.args, nil, &stdout, &stderr, process)
			if code != tt.code || stdout.String() != tt.stdout || stderr.String() != tt.stderr {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr %q",
					code, stdout.String(), stderr.String(), tt.code, tt.stdout, tt.stderr)
			}
		})
	}
}
