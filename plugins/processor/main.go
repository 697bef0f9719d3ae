// Command processor is the seed's example-processor rewritten in Go: it
// applies one operation (sum, mean, min, max or sort) to a list of numbers.
//
//	processor '{"data": [3, 1, 2], "operation": "sum"}'
//	→ {"result":6,"operation":"sum","count":3}
package main

import "github.com/orc-gateway/orc/sdk/plugin"

func main() { plugin.Run(process) }
