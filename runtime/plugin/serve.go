package plugin

import (
	"log/slog"
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/orc-gateway/orc"
)

// Serve serves d to the worker that started this process and returns when
// the worker ends it. It is the whole main of a driver binary: the process
// must have been started by a worker (go-plugin's handshake), else Serve
// tells the person who ran it so and exits.
//
// The driver's logs go to stderr, which go-plugin passes on to the
// worker's log.
func Serve(d orc.Driver) {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{ProtocolVersion: pluginSet(d)},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, grpc.MaxRecvMsgSize(maxMessage), grpc.MaxSendMsgSize(maxMessage),
				grpc.InitialWindowSize(windowSize), grpc.InitialConnWindowSize(windowSize))...)
		},
		Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, JSONFormat: true}),
	})
}

// Logger returns a logger for a driver process: JSON lines on stderr in
// the form go-plugin reads (@level, @message), so that the worker logs
// them at their level and with their fields.
func Logger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.LevelKey:
				return slog.String("@level", strings.ToLower(a.Value.String()))
			case slog.MessageKey:
				return slog.String("@message", a.Value.String())
			case slog.TimeKey:
				return slog.Attr{Key: "@timestamp", Value: a.Value}
			}
			return a
		},
	}))
}
