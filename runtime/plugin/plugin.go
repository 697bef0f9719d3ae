package plugin

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/runtime/plugin/driverpb"
)

// ProtocolVersion is the driver protocol's version (driverpb, v1). A
// worker and a driver each say which versions they speak, and go-plugin
// settles on the highest both do; with none in common they refuse each
// other at the handshake.
const ProtocolVersion = 1

// Handshake is what a driver process and the worker check before they
// talk. The cookie is not a secret: it keeps a driver binary run by hand
// from waiting for a worker that will never come.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "ORC_DRIVER_PLUGIN",
	MagicCookieValue: "5b0c6a3e-orc-driver",
}

// pluginName is the one plugin a driver process serves.
const pluginName = "driver"

// maxMessage bounds one gRPC message either way: a run's stdin and its
// result's kept output (8 MiB of stdout by default) travel whole.
const maxMessage = 64 << 20

// windowSize is the HTTP/2 flow-control window of the driver connection,
// either way. A fixed window turns gRPC's bandwidth probing off, whose
// PING frames cost a driver call extra wake-ups of both processes.
const windowSize = 8 << 20

// grpcPlugin is the go-plugin plugin of the driver protocol: the server
// side wraps Impl, the client side returns a *Client.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl orc.Driver
}

var _ plugin.GRPCPlugin = (*grpcPlugin)(nil)

func (p *grpcPlugin) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	driverpb.RegisterDriverServer(s, newServer(p.Impl))
	return nil
}

func (p *grpcPlugin) GRPCClient(ctx context.Context, broker *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return newClient(driverpb.NewDriverClient(c)), nil
}

// pluginSet is the plugins a driver process serves and a worker asks for.
func pluginSet(impl orc.Driver) plugin.PluginSet {
	return plugin.PluginSet{pluginName: &grpcPlugin{Impl: impl}}
}
