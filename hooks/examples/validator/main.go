// Command validator is a pre hook that enforces rules across fields of the
// input, which JSON Schema cannot express; the rules are in package rules.
// It denies an input that breaks one with 422 and says which.
package main

import (
	"github.com/orc-gateway/orc/hooks/examples/validator/rules"
	"github.com/orc-gateway/orc/sdk/hook"
)

func init() { hook.Handle(rules.Check) }

func main() {}
