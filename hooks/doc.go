// Package hooks runs hook modules (hook ABI v1, docs/hooks.md) in wazero.
//
// A Host has one wazero runtime. It compiles each module once, keyed by its
// sha256 and shared by every name that loads the same bytes (with wazero's
// on-disk compilation cache when Config.CacheDir is set), and keeps a pool
// of ready instances per module: a Go guest takes milliseconds to
// instantiate and a warm call microseconds, so calls never instantiate
// unless an instance was discarded. An instance serves one call at a time;
// one that trapped, exited or ran out of time is closed, and the pool makes
// a new one when it needs one. Guests get no filesystem, network,
// environment or arguments; stdin is empty; stdout and stderr go to a
// buffer per instance, returned with each call (at most 64 KiB a call).
//
// Before wazero sees a module, wasmbin.CheckLimits reads its structure:
// wazero 1.12 allocates whatever vector lengths a module states before
// reading the items, so a 20-byte module could make it allocate 36 GB and
// kill the process.
//
// # Stopping a runaway guest
//
// Code that wazero compiled cannot be preempted by Go. wazero's own remedy,
// RuntimeConfig.WithCloseOnContextDone, compiles a call back into Go at
// every loop header and starts a goroutine per call; for Go guests, whose
// every branch goes through a loop header, it multiplies a call's time.
// This package instead rewrites the module (wasmbin.Instrument): every
// function entry and loop header counts down a fuel global, and when 10000
// are spent the guest calls memory.grow(0), which wazero runs in Go, so that
// the Go scheduler and garbage collector can stop it, and then traps if the
// host has set the exported global orc_interrupt. A per-instance
// time.AfterFunc sets it at the deadline. Measured with
//
//	go test -run '^$' -bench 'BenchmarkHook|BenchmarkTimeout' -benchtime 2s ./hooks/
//
// (wazero 1.12, Go 1.26, 2 shared vCPUs; the validator example on a 1 KB
// input, and a hand-written hook without a language runtime; p50/p99 µs per
// call through Host.Call):
//
//	mechanism                          validator     minimal
//	none (cannot stop `for {}`)        8.44 / 15.8   1.44 / 2.4
//	WithCloseOnContextDone + ctx       73.6 / 128.3  2.98 / 12.4
//	instrumentation (this package)     10.3 / 25.9   1.53 / 2.6
//
// The same validator rules called natively take 2.7 / 3.6 µs.
package hooks
