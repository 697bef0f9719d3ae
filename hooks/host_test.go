package hooks

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/hooks/internal/wasmtest"
)

func TestCall(t *testing.T) {
	h := newHost(t, Config{})
	load(t, h, "guest", rawGuest)
	for _, tc := range []struct {
		do   string
		want orc.HookReply
	}{
		{"allow", orc.HookReply{Allow: true}},
		{"deny", orc.HookReply{Status: 451, Message: `denied by "guest"`}},
		{"rewrite", orc.HookReply{Allow: true, Input: json.RawMessage(`{"rewritten":true,"was":{"do":"rewrite"}}`)}},
		{"route", orc.HookReply{Allow: true, Route: &orc.HookRoute{Version: "2.0.0", Pool: "gpu", Priority: 7}}},
	} {
		t.Run(tc.do, func(t *testing.T) {
			got, lines, err := do(h, "guest", tc.do)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("got %+v, want %+v", *got, tc.want)
			}
			if lines != nil {
				t.Errorf("lines %q, want none", lines)
			}
		})
	}
}

// The guest gets the request as docs/hooks.md describes it.
func TestCallRequest(t *testing.T) {
	h := newHost(t, Config{})
	load(t, h, "guest", rawGuest)
	req := &orc.HookRequest{
		Phase:        orc.HookPost,
		InvocationID: "inv-1",
		Plugin:       orc.HookPlugin{Name: "classifier", Version: "1.2.0"},
		Principal:    orc.HookPrincipal{Subject: "alice@example.com", Roles: []string{"developer"}},
		Headers:      map[string]string{"X-Canary": "yes", "Authorization": "Bearer secret", "cookie": "s=1"},
		Input:        json.RawMessage(`{"do": "echo"}`),
		Output:       json.RawMessage(`{"class":"setosa"}`),
	}
	reply, _, err := h.Call(context.Background(), "guest", req)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(reply.Output, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"phase":         "post",
		"invocation_id": "inv-1",
		"plugin":        map[string]any{"name": "classifier", "version": "1.2.0"},
		"principal":     map[string]any{"subject": "alice@example.com", "roles": []any{"developer"}},
		"headers":       map[string]any{"x-canary": "yes"},
		"input":         map[string]any{"do": "echo"},
		"output":        map[string]any{"class": "setosa"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("guest got\n%v\nwant\n%v", got, want)
	}
}

func TestCallNotLoaded(t *testing.T) {
	h := newHost(t, Config{})
	_, _, err := do(h, "nope", "allow")
	wantError(t, err, orc.ENOTFOUND, `hook "nope" is not loaded`)
}

// A guest that never returns is stopped at its timeout, and the next call
// gets a fresh instance.
func TestCallTimeout(t *testing.T) {
	h := newHost(t, Config{})
	load(t, h, "guest", rawGuest)
	for range 3 {
		start := time.Now()
		_, _, err := do(h, "guest", "loop")
		took := time.Since(start)
		wantError(t, err, CodeFailed, `hook "guest" timed out after 100ms`)
		if took < DefaultTimeout || took > DefaultTimeout+50*time.Millisecond {
			t.Errorf("stopped after %v, want %v + at most 50ms", took, DefaultTimeout)
		}
		if r, _, err := do(h, "guest", "allow"); err != nil || !r.Allow {
			t.Fatalf("the call after a timeout: %+v, %v", r, err)
		}
	}
}

// Guests that never return, without a language runtime: each must be
// stopped at its timeout by the instrumentation.
func TestInterrupt(t *testing.T) {
	i64zero := []byte{0x42, 0x00}
	loop := append([]byte{0x03, 0x40, 0x0c, 0x00, 0x0b}, i64zero...) // loop br 0 end
	fill := append([]byte{0x03, 0x40,                                // loop memory.fill(0, 0, 65536) br 0 end
		0x41, 0x00, 0x41, 0x00, 0x41, 0x80, 0x80, 0x04, 0xfc, 0x0b, 0x00, 0x0c, 0x00, 0x0b}, i64zero...)
	recurse := append([]byte{0x41, 0x40, 0x10, 0x02}, i64zero...) // f(64)
	// f(n): if n { f(n-1); f(n-1) }: 2^64 calls and no loop.
	f := wasmtest.Func{Params: []byte{i32}, Body: []byte{0x20, 0x00, 0x04, 0x40,
		0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x02,
		0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x02, 0x0b}}
	for _, tc := range []struct {
		name  string
		hook  []byte
		extra []wasmtest.Func
	}{
		{"loop", loop, nil},
		{"memory.fill", fill, nil},
		{"recursion", recurse, []wasmtest.Func{f}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHost(t, Config{Timeout: 50 * time.Millisecond})
			m := wasmtest.Module{Memory: true, Funcs: append([]wasmtest.Func{
				{Export: "orc_alloc", Params: []byte{i32}, Results: []byte{i32}, Body: []byte{0x41, 0x00}},
				{Export: "orc_hook", Params: []byte{i32, i32}, Results: []byte{i64}, Body: tc.hook},
			}, tc.extra...)}
			if _, err := h.Load(context.Background(), tc.name, m.Encode()); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, _, err := h.Call(context.Background(), tc.name, preRequest("inv", `{}`))
			wantError(t, err, CodeFailed, `hook "`+tc.name+`" timed out after 50ms`)
			// A Go guest's loop stops within 1 ms of its deadline (see
			// TestCallTimeout); the recursion here has been seen to take
			// up to 90 ms more, on a loaded machine.
			if took := time.Since(start); took > 250*time.Millisecond {
				t.Errorf("stopped after %v", took)
			}
		})
	}
}

// The caller's context stops a guest too.
func TestCallCanceled(t *testing.T) {
	h := newHost(t, Config{Timeout: 10 * time.Second})
	load(t, h, "guest", rawGuest)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := h.Call(ctx, "guest", preRequest("inv", `{"do":"loop"}`))
	wantError(t, err, CodeFailed, `hook "guest" canceled`)
	if took := time.Since(start); took > time.Second {
		t.Errorf("stopped after %v", took)
	}
	if _, _, err := do(h, "guest", "allow"); err != nil {
		t.Fatal(err)
	}
}

// A guest that allocates without bound hits the memory cap; the host and
// the next call are fine.
func TestCallMemoryLimit(t *testing.T) {
	// Growing a Go guest's heap to 64 MiB takes about 0.2 s: more than the
	// default timeout.
	h := newHost(t, Config{Timeout: 10 * time.Second})
	load(t, h, "guest", rawGuest)
	_, lines, err := do(h, "guest", "alloc")
	wantError(t, err, CodeFailed, `hook "guest" failed: out of memory`)
	if !slices.Contains(lines, "fatal error: out of memory") {
		t.Errorf("guest output %q lacks the runtime's message", lines)
	}
	if _, _, err := do(h, "guest", "allow"); err != nil {
		t.Fatal(err)
	}
}

func TestCallFailure(t *testing.T) {
	h := newHost(t, Config{})
	load(t, h, "guest", rawGuest)
	for _, tc := range []struct{ do, message string }{
		{"panic", `hook "guest" failed: panic`},
		{"exit", `hook "guest" failed: exited with code 3`},
		{"garbage", `hook "guest" returned an invalid reply: not JSON`},
		{"nonobject", `hook "guest" returned an invalid reply: not a JSON object but an array`},
		{"wrongtype", `hook "guest" returned an invalid reply: "allow" is a string, want a boolean`},
		{"badstatus", `hook "guest" returned an invalid reply: "status" 200 is not 0 or 400–599`},
		{"badptr", `hook "guest" returned an invalid reply: not JSON`},
	} {
		t.Run(tc.do, func(t *testing.T) {
			_, _, err := do(h, "guest", tc.do)
			wantError(t, err, CodeFailed, tc.message)
			if r, _, err := do(h, "guest", "allow"); err != nil || !r.Allow {
				t.Fatalf("the call after: %+v, %v", r, err)
			}
		})
	}
}

// A module's trap is a Wasm trap when the guest says nothing.
func TestCallTrap(t *testing.T) {
	h := newHost(t, Config{})
	if _, err := h.Load(context.Background(), "trap", wasmtest.MinimalHook(true)); err != nil {
		t.Fatal(err)
	}
	_, _, err := h.Call(context.Background(), "trap", preRequest("inv", `{}`))
	wantError(t, err, CodeFailed, `hook "trap" failed: unreachable`)
}

func TestCallOutput(t *testing.T) {
	h := newHost(t, Config{})
	load(t, h, "guest", rawGuest)
	_, lines, err := do(h, "guest", "print")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"to stdout inv-print", "to stderr inv-print"}; !slices.Equal(lines, want) {
		t.Errorf("lines %q, want %q", lines, want)
	}
	if _, lines, _ := do(h, "guest", "allow"); lines != nil {
		t.Errorf("the next call got lines %q", lines)
	}
	_, lines, err = do(h, "guest", "flood")
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 65 || len(lines[0]) != 1023 || !strings.Contains(lines[64], "dropped") {
		t.Errorf("flood: %d lines, last %.80q", len(lines), lines[len(lines)-1])
	}
}

// Concurrent calls through one module each get their own reply and output.
func TestCallConcurrent(t *testing.T) {
	h := newHost(t, Config{})
	load(t, h, "guest", rawGuest)
	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("inv-%d", i)
			input := `{"do":"echo"}`
			if i%2 == 1 {
				input = `{"do":"print"}`
			}
			r, lines, err := h.Call(context.Background(), "guest", preRequest(id, input))
			switch {
			case err != nil:
				errs <- err
			case i%2 == 0 && (r.Message != id || !strings.Contains(string(r.Output), `"invocation_id":"`+id+`"`)):
				errs <- fmt.Errorf("%s got message %q", id, r.Message)
			case i%2 == 1 && !slices.Equal(lines, []string{"to stdout " + id, "to stderr " + id}):
				errs <- fmt.Errorf("%s got lines %q", id, lines)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A runaway guest harms neither another module's calls nor the other
// instances of its own.
func TestCallIsolation(t *testing.T) {
	h := newHost(t, Config{MaxInstances: 8})
	load(t, h, "bad", rawGuest)
	if _, err := h.Load(context.Background(), "good", wasmtest.MinimalHook(false)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { _, _, _ = do(h, "bad", "loop") })
	}
	deadline := time.Now().Add(80 * time.Millisecond)
	for n := 0; time.Now().Before(deadline); n++ {
		for _, name := range []string{"good", "bad"} {
			if r, _, err := do(h, name, "allow"); err != nil || !r.Allow {
				t.Fatalf("%s call %d during the loops: %+v, %v", name, n, r, err)
			}
		}
	}
	wg.Wait()
}

// Calls beyond MaxInstances wait for a free instance, at most the timeout
// and while their context lasts.
func TestCallWait(t *testing.T) {
	h := newHost(t, Config{MaxInstances: 1})
	load(t, h, "guest", rawGuest)
	var wg sync.WaitGroup
	for range 2 { // the first holds the instance 100ms, the second waits for it
		wg.Go(func() { _, _, _ = do(h, "guest", "loop") })
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, _, err := h.Call(ctx, "guest", preRequest("inv", `{"do":"allow"}`))
	wantError(t, err, CodeFailed, `hook "guest" canceled`)
	_, _, err = do(h, "guest", "allow")
	wantError(t, err, CodeFailed, `hook "guest" timed out after 100ms waiting for a free instance`)
	wg.Wait()
	if _, _, err := do(h, "guest", "allow"); err != nil {
		t.Fatal(err)
	}
}

func TestLoad(t *testing.T) {
	ctx := context.Background()
	h := newHost(t, Config{})
	bin := guest(t, rawGuest)
	sha, err := h.Load(ctx, "a", bin)
	if err != nil {
		t.Fatal(err)
	}
	if len(sha) != 64 {
		t.Errorf("sha %q", sha)
	}
	for _, name := range []string{"a", "b"} { // the same name, another name
		if again, err := h.Load(ctx, name, bin); err != nil || again != sha {
			t.Fatalf("Load(%s) again = %q, %v", name, again, err)
		}
	}
	if n := h.compiles.Load(); n != 1 {
		t.Errorf("compiled %d times, want 1", n)
	}
	if got, ok := h.Loaded("b"); !ok || got != sha {
		t.Errorf("Loaded(b) = %q, %v", got, ok)
	}

	// Other bytes replace a's module; b keeps the old one.
	other, err := h.Load(ctx, "a", wasmtest.MinimalHook(false))
	if err != nil || other == sha {
		t.Fatalf("replace: %q, %v", other, err)
	}
	if got, _ := h.Loaded("a"); got != other {
		t.Errorf("Loaded(a) = %q, want %q", got, other)
	}
	if r, _, err := do(h, "b", "deny"); err != nil || r.Status != 451 {
		t.Errorf("b after a was replaced: %+v, %v", r, err)
	}

	h.Unload("b")
	if _, ok := h.Loaded("b"); ok {
		t.Error("b is loaded after Unload")
	}
	_, _, err = do(h, "b", "allow")
	wantError(t, err, orc.ENOTFOUND, `hook "b" is not loaded`)
	h.Unload("b") // twice is fine
	if len(h.modules) != 1 {
		t.Errorf("%d modules kept, want 1", len(h.modules))
	}

	// Loading the first bytes again after they were dropped compiles again.
	if _, err := h.Load(ctx, "b", bin); err != nil {
		t.Fatal(err)
	}
	if n := h.compiles.Load(); n != 3 {
		t.Errorf("compiled %d times, want 3", n)
	}
}

// Many loads of the same bytes at once compile once.
func TestLoadConcurrent(t *testing.T) {
	h := newHost(t, Config{})
	bin := guest(t, rawGuest)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if _, err := h.Load(context.Background(), fmt.Sprint("h", i%3), bin); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := h.compiles.Load(); n != 1 {
		t.Errorf("compiled %d times, want 1", n)
	}
}

func TestLoadInvalid(t *testing.T) {
	h := newHost(t, Config{})
	_, err := h.Load(context.Background(), "x", []byte("#!/bin/sh\necho hi\n"))
	wantError(t, err, orc.EINVALID, `hook "x": not a WebAssembly module`)
	if _, ok := h.Loaded("x"); ok {
		t.Error("an invalid module is loaded")
	}
}

// Unload while calls run: they finish, later ones fail.
func TestUnloadDuringCalls(t *testing.T) {
	h := newHost(t, Config{})
	load(t, h, "guest", rawGuest)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				_, _, err := do(h, "guest", "allow")
				if err != nil && orc.ErrorCode(err) != orc.ENOTFOUND {
					t.Error(err)
				}
			}
		})
	}
	time.Sleep(time.Millisecond)
	h.Unload("guest")
	wg.Wait()
}

func TestClose(t *testing.T) {
	ctx := context.Background()
	h := newHost(t, Config{})
	load(t, h, "guest", rawGuest)
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	_, _, err := do(h, "guest", "allow")
	wantError(t, err, orc.ENOTFOUND, `hook "guest" is not loaded`)
	if _, err := h.Load(ctx, "guest", guest(t, rawGuest)); err == nil {
		t.Error("Load after Close succeeded")
	}
}

// A guest whose _initialize never returns is stopped like a call: the load
// fails within the start's time limit, and the host goes on.
func TestInitializeIsBounded(t *testing.T) {
	h := newHost(t, Config{Timeout: 50 * time.Millisecond})
	m := wasmtest.MinimalModule()
	m.Funcs = append(m.Funcs, wasmtest.Func{Export: "_initialize", Body: []byte{0x03, 0x40, 0x0c, 0x00, 0x0b}}) // loop br 0 end
	start := time.Now()
	_, err := h.Load(context.Background(), "spin", m.Encode())
	if err == nil || !strings.Contains(err.Error(), "_initialize timed out") {
		t.Fatalf("load: %v, want _initialize timed out", err)
	}
	if took := time.Since(start); took > minStartTimeout+time.Second {
		t.Errorf("stopped after %v", took)
	}
	if _, err := h.Load(context.Background(), "ok", wasmtest.MinimalHook(false)); err != nil {
		t.Fatalf("the host after a spinning _initialize: %v", err)
	}
}
