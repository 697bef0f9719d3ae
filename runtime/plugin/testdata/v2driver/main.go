// Command v2driver is a driver process that speaks only a protocol version
// Orc's workers do not (2): the tests check that a worker refuses it.
package main

import (
	"context"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/orc-gateway/orc/runtime/plugin"
)

// v2 is a driver of protocol version 2 that serves nothing.
type v2 struct {
	goplugin.NetRPCUnsupportedPlugin
}

func (v2) GRPCServer(*goplugin.GRPCBroker, *grpc.Server) error { return nil }
func (v2) GRPCClient(context.Context, *goplugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, nil
}

func main() {
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig:  plugin.Handshake,
		VersionedPlugins: map[int]goplugin.PluginSet{2: {"driver": v2{}}},
		GRPCServer:       goplugin.DefaultGRPCServer,
	})
}
