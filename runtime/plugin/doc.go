// Package plugin serves Orc's driver contract (orc.Driver and its optional
// interfaces) across a process boundary with hashicorp/go-plugin: a driver
// built as its own binary, such as Podman's, or the Docker driver run as
// `orc driver docker`, is started by the worker, checked (handshake,
// protocol version, optionally its SHA-256) and called over gRPC.
//
// The worker cannot tell an external driver from an in-process one:
// External implements the same interfaces. Output streams and
// cancellation cross the boundary on Run's bidirectional stream. A driver
// process that exits is started again on the next call; a run it was in
// the middle of ends with an error wrapping orc.ErrHandedBack, so that the
// worker hands the task back to the queue as if the worker itself had
// died, and the next attempt reaps what the lost one left.
//
// # Notes
//
// Drivers are tested through a real gRPC connection: Serve's plugin over
// plugin.TestPluginGRPCConn, and the built binaries through External.
package plugin
