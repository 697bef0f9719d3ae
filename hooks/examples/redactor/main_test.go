package main

import (
	"encoding/json"
	"testing"

	"github.com/orc-gateway/orc/sdk/hook"
)

func TestMaskEmails(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"alice@example.com", "a***@example.com"},
		{"write to bob.smith+x@mail.example.org, thanks.", "write to b***@mail.example.org, thanks."},
		{"<a@b.io> and (carol@c-d.co.uk)", "<a***@b.io> and (c***@c-d.co.uk)"},
		{"x@y.com y@z.org", "x***@y.com y***@z.org"},
		{"end with a dot: d@e.net.", "end with a dot: d***@e.net."},
		{"no address", "no address"},
		{"@handle and a@b and a@b.c and @", "@handle and a@b and a@b.c and @"},
		{"", ""},
	} {
		if got, _ := maskEmails(tc.in); got != tc.want {
			t.Errorf("maskEmails(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct {
		name, output, want string
	}{
		{"nested", `{"user":{"email":"alice@example.com","tags":["x","cc: bob@example.org"]},"n":1.50,"ok":true,"none":null}`,
			`{"allow":true,"output":{"user":{"email":"a***@example.com","tags":["x","cc: b***@example.org"]},"n":1.50,"ok":true,"none":null}}`},
		{"keys kept", `{"alice@example.com":"alice@example.com"}`,
			`{"allow":true,"output":{"alice@example.com":"a***@example.com"}}`},
		{"escapes kept valid", `["\"q\" alice@example.com\n"]`, `{"allow":true,"output":["\"q\" a***@example.com\n"]}`},
		{"top-level string", `"alice@example.com"`, `{"allow":true,"output":"a***@example.com"}`},
		{"nothing to mask", `{"at":"@","n":1}`, `{"allow":true}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := redact(hook.NewRequest([]byte(`{"phase":"post","input":{},"output":` + tc.output + `}`)))
			got := r.AppendJSON(nil)
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if !json.Valid(got) {
				t.Errorf("not valid JSON: %s", got)
			}
		})
	}
}
