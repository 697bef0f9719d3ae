package registry

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/orc-gateway/orc"
)

func seedVersion() *orc.Version {
	v := &orc.Version{
		Plugin: "example-processor", Version: "1.0.0", Image: "example-processor:1.0.0",
		InputSchema: json.RawMessage(`{"type":"object","required":["data","operation"],
			"properties":{"data":{"type":"array","items":{"type":"number"}},
			"operation":{"enum":["sum","mean"]}}}`),
	}
	v.SetDefaults()
	return v
}

func problems(t *testing.T, err error) []orc.Problem {
	t.Helper()
	if orc.ErrorCode(err) != orc.EINVALID {
		t.Fatalf("error = %v, want EINVALID", err)
	}
	ps, ok := orc.ErrorDetails(err).([]orc.Problem)
	if !ok {
		t.Fatalf("details = %#v, want []orc.Problem", orc.ErrorDetails(err))
	}
	return ps
}

func TestValidateVersion(t *testing.T) {
	if err := ValidateVersion(context.Background(), seedVersion()); err != nil {
		t.Fatalf("seed plugin.json refused: %v", err)
	}
	tests := []struct {
		name    string
		change  func(v *orc.Version)
		pointer string
	}{
		{"bad name", func(v *orc.Version) { v.Plugin = "Bad Name" }, "/name"},
		{"no version", func(v *orc.Version) { v.Version = "" }, "/version"},
		{"no image", func(v *orc.Version) { v.Image = "" }, "/docker_image"},
		{"bad protocol", func(v *orc.Version) { v.Protocol = "grpc" }, "/protocol"},
		{"bad network", func(v *orc.Version) { v.Network = "host" }, "/network"},
		{"timeout", func(v *orc.Version) { v.TimeoutS = -1 }, "/timeout_s"},
		{"memory", func(v *orc.Version) { v.Resources.MemoryMB = 1 }, "/resources/memory_mb"},
		{"reserved env", func(v *orc.Version) { v.Env = map[string]string{"ORC_PORT": "1"} }, "/env/ORC_PORT"},
		{"schema not json", func(v *orc.Version) { v.InputSchema = json.RawMessage(`{`) }, "/input_schema"},
		{"schema invalid", func(v *orc.Version) { v.OutputSchema = json.RawMessage(`{"type": 12}`) }, "/output_schema"},
		{"schema remote ref", func(v *orc.Version) {
			v.InputSchema = json.RawMessage(`{"$ref": "http://127.0.0.1:1/x.json"}`)
		}, "/input_schema"},
		{"schema file ref", func(v *orc.Version) { v.InputSchema = json.RawMessage(`{"$ref": "file:///etc/passwd"}`) }, "/input_schema"},
		// Every number has a floor and a ceiling: Docker runs cpu 1e-300
		// with no CPU limit at all, and refuses 0.001 at every call.
		{"cpu that rounds to no limit", func(v *orc.Version) { v.Resources.CPU = 1e-300 }, "/resources/cpu"},
		{"cpu below Docker's least", func(v *orc.Version) { v.Resources.CPU = 0.001 }, "/resources/cpu"},
		{"cpu over a node", func(v *orc.Version) { v.Resources.CPU = 5000 }, "/resources/cpu"},
		{"memory 16 TiB", func(v *orc.Version) { v.Resources.MemoryMB = 1 << 24 }, "/resources/memory_mb"},
		{"gpus", func(v *orc.Version) { v.Resources.GPU = 1000 }, "/resources/gpu"},
		{"pids 9e18", func(v *orc.Version) { v.Resources.Pids = 9e18 }, "/resources/pids"},
		{"pids too few to start", func(v *orc.Version) { v.Resources.Pids = 2 }, "/resources/pids"},
		{"custom amount", func(v *orc.Version) { v.Resources.Custom = map[string]float64{"accelerator": 1e12} }, "/resources/custom/accelerator"},
		{"custom name Ray keeps", func(v *orc.Version) { v.Resources.Custom = map[string]float64{"CPU": 1} }, "/resources/custom"},
		{"concurrency a million", func(v *orc.Version) { v.Concurrency = 1_000_000 }, "/concurrency"},
		{"max_replicas a million", func(v *orc.Version) { v.MaxReplicas = 1_000_000 }, "/max_replicas"},
		{"max_workers", func(v *orc.Version) { n := 1000; v.MaxWorkers = &n }, "/max_workers"},
		{"env value", func(v *orc.Version) { v.Env = map[string]string{"BIG": strings.Repeat("x", 64<<10)} }, "/env/BIG"},
		{"hooks", func(v *orc.Version) { v.Hooks.Pre = make([]string, 17) }, "/hooks"},
		// A hook is named by its phase and place, as in the plugin.json.
		{"bad post hook name", func(v *orc.Version) { v.Hooks.Pre, v.Hooks.Post = []string{"ok"}, []string{"Not A Name"} }, "/hooks/post/0"},
		// Schemas that apply themselves to the same value again can never
		// check one: every invocation would fail, blaming its input.
		{"schema $ref to itself", func(v *orc.Version) { v.InputSchema = json.RawMessage(`{"$ref": "#"}`) }, "/input_schema"},
		{"schema $defs cycle", func(v *orc.Version) {
			v.InputSchema = json.RawMessage(`{"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"allOf": [{"$ref": "#/$defs/a"}]}}}`)
		}, "/input_schema"},
		{"schema cycle through anyOf", func(v *orc.Version) {
			v.OutputSchema = json.RawMessage(`{"type": "object", "properties": {"x": {"anyOf": [{"type": "string"}, {"$ref": "#/properties/x"}]}}}`)
		}, "/output_schema"},
		// A schema 9,000 levels deep held a gateway's CPU for minutes.
		{"schema 9,000 deep", func(v *orc.Version) { v.InputSchema = deepSchema(9000) }, "/input_schema"},
		{"schema 65 deep", func(v *orc.Version) { v.OutputSchema = deepSchema(64) }, "/output_schema"},
		{"schema over 256 KiB", func(v *orc.Version) {
			v.InputSchema = json.RawMessage(`{"description":"` + strings.Repeat("x", 300<<10) + `"}`)
		}, "/input_schema"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := seedVersion()
			tc.change(v)
			ps := problems(t, ValidateVersion(context.Background(), v))
			if ps[0].Pointer != tc.pointer {
				t.Fatalf("problems = %+v, want one at %s", ps, tc.pointer)
			}
		})
	}
}

// Recursion that descends into the value is what $ref is for, and stays
// allowed.
func TestRecursiveSchemasRegister(t *testing.T) {
	for _, schema := range []string{
		`{"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#"}}}}`,
		`{"$ref": "#/$defs/node", "$defs": {"node": {"anyOf": [{"type": "number"}, {"type": "array", "items": {"$ref": "#/$defs/node"}}]}}}`,
		`{"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"type": "string"}}, "allOf": [{"$ref": "#/$defs/a"}, {"$ref": "#/$defs/a"}]}`,
	} {
		v := seedVersion()
		v.InputSchema = json.RawMessage(schema)
		if err := ValidateVersion(context.Background(), v); err != nil {
			t.Errorf("%s: %v", schema, err)
		}
	}
	v := seedVersion()
	v.InputSchema = json.RawMessage(`{"properties": {"x": {"$ref": "#/$defs/a"}}, "$defs": {"a": {"$ref": "#/$defs/a"}}}`)
	ps := problems(t, ValidateVersion(context.Background(), v))
	if !strings.Contains(ps[0].Message, "/$defs/a") {
		t.Errorf("problem %q does not say where the cycle is", ps[0].Message)
	}
}

// A huge input that breaks its schema everywhere gets a small answer that
// says how much is wrong and that the list is cut.
func TestViolationsAreCappedAndCut(t *testing.T) {
	var s Schemas
	v := &orc.Version{ID: 9, Plugin: "p", Version: "1", InputSchema: json.RawMessage(`{"type": "array", "items": {"type": "string", "maxLength": 3}}`)}
	items := make([]string, 250)
	for i := range items {
		items[i] = strings.Repeat("é", 10_000)
	}
	doc, _ := json.Marshal(items)
	err := s.ValidateInput(v, doc)
	ps := problems(t, err)
	if len(ps) != MaxProblems {
		t.Fatalf("%d problems listed, want %d", len(ps), MaxProblems)
	}
	for _, p := range ps {
		if len(p.Message) > MaxProblemText || !utf8.ValidString(p.Message) {
			t.Fatalf("message of %d bytes (valid UTF-8: %v): %.80q", len(p.Message), utf8.ValidString(p.Message), p.Message)
		}
	}
	if msg := orc.ErrorMessage(err); !strings.Contains(msg, "250 violations") || !strings.Contains(msg, "first 100") {
		t.Fatalf("message %q does not say how many there were and that the list is cut", msg)
	}
}

func TestValidateInputListsEveryViolation(t *testing.T) {
	var s Schemas
	v := seedVersion()
	v.ID = 7
	if err := s.ValidateInput(v, []byte(`{"data":[1,2],"operation":"sum"}`)); err != nil {
		t.Fatalf("valid input refused: %v", err)
	}
	ps := problems(t, s.ValidateInput(v, []byte(`{"data":[1,"two",3,"four"],"operation":"median"}`)))
	var pointers []string
	for _, p := range ps {
		pointers = append(pointers, p.Pointer)
	}
	want := []string{"/data/1", "/data/3", "/operation"}
	if !reflect.DeepEqual(pointers, want) {
		t.Fatalf("pointers = %v (%+v), want %v", pointers, ps, want)
	}
	ps = problems(t, s.ValidateInput(v, []byte(`{}`)))
	if len(ps) != 1 || ps[0].Pointer != "" {
		t.Fatalf("missing properties: %+v", ps)
	}
	if err := s.ValidateInput(v, []byte(`{`)); orc.ErrorCode(err) != orc.EINVALID {
		t.Fatalf("malformed: %v", err)
	}
	// No schema accepts anything.
	if err := s.ValidateOutput(v, []byte(`[1]`)); err != nil {
		t.Fatalf("no output schema: %v", err)
	}
}

// Violations under $ref and oneOf are reported at their own pointers, with
// plain messages.
func TestProblemsUnderRefAndOneOf(t *testing.T) {
	var s Schemas
	v := &orc.Version{Plugin: "c", Version: "1", InputSchema: json.RawMessage(`{
		"type": "object",
		"properties": {"features": {"$ref": "#/$defs/f"}},
		"oneOf": [{"required": ["features"]}, {"required": ["samples"]}],
		"$defs": {"f": {"type": "array", "items": {"type": "number"}, "minItems": 4}}}`)}
	ps := problems(t, s.ValidateInput(v, []byte(`{"features": [1, "x"]}`)))
	if len(ps) != 2 || ps[0].Pointer != "/features" || ps[1].Pointer != "/features/1" {
		t.Fatalf("problems = %+v", ps)
	}
	for _, p := range ps {
		if strings.Contains(p.Message, "orc:///") || strings.Contains(p.Message, "\n") {
			t.Fatalf("message leaks the validator's internals: %q", p.Message)
		}
	}
}

// deepSchema nests "items" n times: n+1 objects deep.
func deepSchema(n int) json.RawMessage {
	return json.RawMessage(strings.Repeat(`{"type":"array","items":`, n) + `{}` + strings.Repeat(`}`, n))
}

// Deep schemas are refused at once, whatever their depth, and a schema
// within the bounds still registers.
func TestSchemaBoundsAreCheap(t *testing.T) {
	start := time.Now()
	v := seedVersion()
	v.InputSchema = deepSchema(9000)
	ps := problems(t, ValidateVersion(context.Background(), v))
	if !strings.Contains(ps[0].Message, "deeper than 64") {
		t.Errorf("problem %q does not say which limit", ps[0].Message)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("refusing a 9,000-deep schema took %v", took)
	}
	v = seedVersion()
	v.InputSchema = deepSchema(63)
	if err := ValidateVersion(context.Background(), v); err != nil {
		t.Errorf("a 64-deep schema: %v", err)
	}
	// A request that ends stops waiting for the compile.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := compileWithin(ctx, deepSchema(10)); err == nil {
		t.Error("a compile under an ended context reported success")
	}
}

func TestCheckPolicy(t *testing.T) {
	if err := CheckPolicy(orc.DefaultPolicy()); err != nil {
		t.Fatalf("the default policy: %v", err)
	}
	for _, tc := range []struct {
		name    string
		change  func(p *orc.Policy)
		pointer string
	}{
		{"caps for admins", func(p *orc.Policy) { p.Roles[orc.RoleAdmin] = orc.RoleCaps{CPU: 1} }, "/roles/admin"},
		{"unknown role", func(p *orc.Policy) { p.Roles["root"] = orc.RoleCaps{} }, "/roles/root"},
		{"cpu over the bound", func(p *orc.Policy) {
			c := p.Roles[orc.RoleDeveloper]
			c.CPU = 5000
			p.Roles[orc.RoleDeveloper] = c
		}, "/roles/developer/cpu"},
		{"bad network", func(p *orc.Policy) {
			c := p.Roles[orc.RoleDeveloper]
			c.Networks = []orc.Network{"host"}
			p.Roles[orc.RoleDeveloper] = c
		}, "/roles/developer/networks"},
		{"bad pattern", func(p *orc.Policy) { p.Images = []string{"[a-"} }, "/images/0"},
		{"ray-job shared", func(p *orc.Policy) { p.SharedPools[orc.RayJobPool] = orc.PoolSize{MaxWorkers: 1} }, "/shared_pools/ray-job"},
		{"shared pool without replicas", func(p *orc.Policy) {
			p.SharedPools["gpu"] = orc.PoolSize{Resources: orc.Resources{CPU: 1, MemoryMB: 512}}
		}, "/shared_pools/gpu/max_workers"},
		{"negative quota", func(p *orc.Policy) { p.Quotas[orc.RoleViewer] = orc.Quota{APIKeys: -1} }, "/quotas/viewer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := orc.DefaultPolicy()
			tc.change(p)
			ps := problems(t, CheckPolicy(p))
			if ps[0].Pointer != tc.pointer {
				t.Fatalf("problems = %+v, want one at %s", ps, tc.pointer)
			}
		})
	}
}
