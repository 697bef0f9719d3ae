package main

import (
	"context"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/orc-gateway/orc/sdk/plugin"
)

// Input is the processor's input.
type Input struct {
	Data      []float64 `json:"data"`
	Operation string    `json:"operation"`
}

// Output is the processor's output. Result is a number, or the sorted
// numbers for "sort".
type Output struct {
	Result    any    `json:"result"`
	Operation string `json:"operation"`
	Count     int    `json:"count"`
}

// operation computes a result from numbers it may not modify.
type operation struct {
	run      func(data []float64) any
	needsOne bool // undefined on an empty list
}

var operations = map[string]operation{
	"sum":  {run: func(d []float64) any { return sum(d) }},
	"mean": {run: func(d []float64) any { return sum(d) / float64(len(d)) }, needsOne: true},
	"min":  {run: func(d []float64) any { return slices.Min(d) }, needsOne: true},
	"max":  {run: func(d []float64) any { return slices.Max(d) }, needsOne: true},
	"sort": {run: sorted},
}

// operationNames lists the operations for error messages, in a fixed order.
var operationNames = slices.Sorted(maps.Keys(operations))

// process applies in.Operation to in.Data.
func process(ctx context.Context, in Input) (Output, error) {
	op, ok := operations[in.Operation]
	switch {
	case in.Operation == "":
		return Output{}, plugin.Errorf(plugin.CodeInvalid, "operation is required: one of %s", strings.Join(operationNames, ", "))
	case !ok:
		return Output{}, plugin.Errorf(plugin.CodeInvalid, "unknown operation %q: want one of %s", in.Operation, strings.Join(operationNames, ", "))
	case in.Data == nil:
		return Output{}, plugin.Errorf(plugin.CodeInvalid, "data is required: a list of numbers")
	case op.needsOne && len(in.Data) == 0:
		return Output{}, plugin.Errorf(plugin.CodeInvalid, "%s of an empty list is undefined: data needs at least one number", in.Operation)
	}
	result := op.run(in.Data)
	if f, ok := result.(float64); ok && math.IsInf(f, 0) {
		return Output{}, plugin.Errorf(plugin.CodeInvalid, "%s overflows a 64-bit float", in.Operation)
	}
	return Output{Result: result, Operation: in.Operation, Count: len(in.Data)}, nil
}

func sum(data []float64) float64 {
	var s float64
	for _, x := range data {
		s += x
	}
	return s
}

// sorted returns a sorted copy of data; an empty list stays a list (not
// null) in the output.
func sorted(data []float64) any {
	out := make([]float64, len(data))
	copy(out, data)
	slices.Sort(out)
	return out
}
