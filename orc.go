// Package orc holds the domain of the Orc function gateway: plugins and their
// versions, invocations, users and principals, and the service interfaces
// that the adapters (PostgreSQL, RabbitMQ, Docker, HTTP) implement.
//
// The root package imports no adapter. Packages named after a technology
// (store/postgres, queue/rabbitmq, runtime/docker, gateway) implement or use
// these interfaces, and only cmd/orc wires more than one of them together.
package orc

import "time"

// Clock tells the time. Services take one so that tests can control it.
type Clock interface {
	Now() time.Time
}

// SystemClock is the Clock of the machine.
type SystemClock struct{}

// Now returns the current time.
func (SystemClock) Now() time.Time { return time.Now() }
