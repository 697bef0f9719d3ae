// Package driverpb is the generated code of driver.proto, the driver
// protocol between a worker and a driver process. Regenerate it with
// `go generate` (protoc, protoc-gen-go and protoc-gen-go-grpc on PATH).
package driverpb

//go:generate protoc -I. --go_out=paths=source_relative:. --go-grpc_out=paths=source_relative:. driver.proto
