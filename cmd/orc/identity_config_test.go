package main

import (
	"errors"
	"testing"
)

func TestParsePrefixes(t *testing.T) {
	got, err := parsePrefixes(" 10.0.0.0/8, 192.0.2.7 ,fd00::/8,::ffff:198.51.100.1")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.0.2.7/32", "fd00::/8", "198.51.100.1/32"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("prefix %d = %s, want %s", i, got[i], want[i])
		}
	}
	if _, err := parsePrefixes("10.0.0.0/8,proxy.example"); !errors.Is(err, errUsage) {
		t.Errorf("a host name: %v, want a usage error", err)
	}
	if got, err := parsePrefixes(""); err != nil || got != nil {
		t.Errorf("empty: %v, %v", got, err)
	}
}
