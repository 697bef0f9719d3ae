package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/internal/jsondepth"
)

// MaxProblems caps the violations reported for one document.
const MaxProblems = 100

// refuseLoader keeps schemas from loading anything by URL: a schema may only
// refer to itself, never to files or the network.
type refuseLoader struct{}

func (refuseLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external reference %q is not allowed", url)
}

// schemaBudget is the longest a schema may take to compile when it is
// registered. Within the size and depth bounds, schemas compile in
// milliseconds; the budget is for what those bounds miss.
const schemaBudget = 5 * time.Second

// compile compiles a JSON Schema (2020-12 unless it says otherwise). An
// empty schema accepts everything and compiles to nil. A schema over
// orc.MaxSchemaBytes or nesting deeper than orc.MaxSchemaDepth is refused
// before it is read: the compiler's time grows fast with the depth (2,000
// levels took 6.5 s, 9,000 minutes and 1.4 GB).
func compile(raw json.RawMessage) (*jsonschema.Schema, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	if len(raw) > orc.MaxSchemaBytes {
		return nil, fmt.Errorf("the schema is %d bytes, over the limit of %d", len(raw), orc.MaxSchemaBytes)
	}
	if d := jsondepth.Of(raw, orc.MaxSchemaDepth); d > orc.MaxSchemaDepth {
		return nil, fmt.Errorf("the schema nests deeper than %d levels", orc.MaxSchemaDepth)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(refuseLoader{})
	const url = "orc:///schema.json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	return c.Compile(url)
}

// compileWithin compiles a schema within ctx and schemaBudget. A compile
// that runs out of time goes on in the background until it ends; the size
// and depth bounds keep that short.
func compileWithin(ctx context.Context, raw json.RawMessage) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, schemaBudget)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := compile(raw)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("it took longer than %s to compile", schemaBudget)
		}
		return ctx.Err()
	}
}

func schemaErrorText(err error) string {
	msg := err.Error()
	// The compiler names our internal resource URL; it means nothing to users.
	msg = strings.ReplaceAll(msg, "orc:///schema.json", "schema")
	if len(msg) > 500 {
		msg = msg[:500] + "…"
	}
	return msg
}

// Schemas caches compiled schemas by version id. Versions are immutable, so
// an entry never goes stale.
type Schemas struct {
	m sync.Map // schemaKey -> *jsonschema.Schema (nil for "accept all")
}

type schemaKey struct {
	version int64
	output  bool
}

func (s *Schemas) get(v *orc.Version, output bool) (*jsonschema.Schema, error) {
	key := schemaKey{v.ID, output}
	if sch, ok := s.m.Load(key); ok {
		return sch.(*jsonschema.Schema), nil
	}
	raw := v.InputSchema
	if output {
		raw = v.OutputSchema
	}
	sch, err := compile(raw)
	if err != nil {
		return nil, fmt.Errorf("compile schema of %s %s: %w", v.Plugin, v.Version, err)
	}
	if v.ID != 0 {
		s.m.Store(key, sch)
	}
	return sch, nil
}

// ValidateInput checks an input document against the version's input
// schema. It returns EINVALID whose details list every violation.
func (s *Schemas) ValidateInput(v *orc.Version, doc []byte) error {
	return s.validate(v, doc, false, "input")
}

// ValidateOutput checks an output document against the version's output
// schema. It returns EINVALID whose details list every violation.
func (s *Schemas) ValidateOutput(v *orc.Version, doc []byte) error {
	return s.validate(v, doc, true, "output")
}

func (s *Schemas) validate(v *orc.Version, doc []byte, output bool, what string) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return orc.Errorf(orc.EINVALID, "%s is not valid JSON", what)
	}
	sch, err := s.get(v, output)
	if err != nil {
		return err
	}
	if sch == nil {
		return nil
	}
	err = sch.Validate(inst)
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	problems := Problems(ve)
	return &orc.Error{
		Code:    orc.EINVALID,
		Message: fmt.Sprintf("%s does not match the schema of %s %s (%d violations)", what, v.Plugin, v.Version, len(problems)),
		Details: problems,
	}
}

// printer renders the validator's messages.
var printer = message.NewPrinter(language.English)

// Problems flattens a validation error into its leaf violations, each with
// the JSON pointer of the offending value.
func Problems(ve *jsonschema.ValidationError) []orc.Problem {
	var ps []orc.Problem
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(ps) == MaxProblems {
			return
		}
		if len(e.Causes) == 0 {
			ps = append(ps, orc.Problem{Pointer: pointer(e.InstanceLocation), Message: e.ErrorKind.LocalizedString(printer)})
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	if len(ps) == 0 {
		ps = append(ps, orc.Problem{Pointer: "", Message: schemaErrorText(ve)})
	}
	// The validator's order is not stable; clients and tests want one.
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Pointer != ps[j].Pointer {
			return ps[i].Pointer < ps[j].Pointer
		}
		return ps[i].Message < ps[j].Message
	})
	return ps
}

// pointer renders instance location tokens as a JSON pointer (RFC 6901).
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		t = strings.ReplaceAll(t, "~", "~0")
		b.WriteString(strings.ReplaceAll(t, "/", "~1"))
	}
	return b.String()
}
