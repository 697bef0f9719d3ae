package console

import (
	"bytes"
	"encoding/json"
	"math/big"
	"sort"
	"strconv"
	"strings"
)

// change is one difference between two JSON documents, at a JSON pointer.
type change struct {
	Pointer string
	// Kind is "changed", "added" (only in B) or "removed" (only in A).
	Kind string
	A, B string
}

// maxChanges bounds the changes listed; maxShown a value's text.
const (
	maxChanges = 200
	maxShown   = 200
)

// diffJSON lists where b differs from a, by JSON pointer, at most
// maxChanges (more reports that there were more). Numbers compare by
// value (1 and 1.0 are equal). A document that is not JSON compares as
// its text.
func diffJSON(a, b []byte) (changes []change, more bool) {
	va, errA := decodeLoose(a)
	vb, errB := decodeLoose(b)
	if errA != nil || errB != nil {
		if !bytes.Equal(bytes.TrimSpace(a), bytes.TrimSpace(b)) {
			return []change{{Pointer: "", Kind: "changed", A: clip(string(a)), B: clip(string(b))}}, false
		}
		return nil, false
	}
	d := &differ{}
	d.walk("", va, vb)
	return d.out, d.more
}

type differ struct {
	out  []change
	more bool
}

func (d *differ) add(c change) {
	if len(d.out) >= maxChanges {
		d.more = true
		return
	}
	d.out = append(d.out, c)
}

func (d *differ) walk(ptr string, a, b any) {
	switch x := a.(type) {
	case map[string]any:
		if y, ok := b.(map[string]any); ok {
			keys := make([]string, 0, len(x)+len(y))
			for k := range x {
				keys = append(keys, k)
			}
			for k := range y {
				if _, ok := x[k]; !ok {
					keys = append(keys, k)
				}
			}
			sort.Strings(keys)
			for _, k := range keys {
				p := ptr + "/" + escapePointer(k)
				va, inA := x[k]
				vb, inB := y[k]
				switch {
				case !inB:
					d.add(change{Pointer: p, Kind: "removed", A: shown(va)})
				case !inA:
					d.add(change{Pointer: p, Kind: "added", B: shown(vb)})
				default:
					d.walk(p, va, vb)
				}
			}
			return
		}
	case []any:
		if y, ok := b.([]any); ok {
			for i := 0; i < max(len(x), len(y)); i++ {
				p := ptr + "/" + strconv.Itoa(i)
				switch {
				case i >= len(y):
					d.add(change{Pointer: p, Kind: "removed", A: shown(x[i])})
				case i >= len(x):
					d.add(change{Pointer: p, Kind: "added", B: shown(y[i])})
				default:
					d.walk(p, x[i], y[i])
				}
			}
			return
		}
	}
	if !sameScalar(a, b) {
		d.add(change{Pointer: ptr, Kind: "changed", A: shown(a), B: shown(b)})
	}
}

// sameScalar compares two values that are not both objects or both
// arrays: numbers by value, the rest as they are.
func sameScalar(a, b any) bool {
	na, okA := a.(json.Number)
	nb, okB := b.(json.Number)
	if okA && okB {
		fa, _, errA := big.ParseFloat(string(na), 10, 256, big.ToNearestEven)
		fb, _, errB := big.ParseFloat(string(nb), 10, 256, big.ToNearestEven)
		if errA == nil && errB == nil {
			return fa.Cmp(fb) == 0
		}
		return na == nb
	}
	switch a.(type) {
	case map[string]any, []any:
		return false
	}
	switch b.(type) {
	case map[string]any, []any:
		return false
	}
	return a == b
}

func decodeLoose(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// shown is a value as compact JSON, clipped.
func shown(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "?"
	}
	return clip(string(b))
}

func clip(s string) string {
	if len(s) <= maxShown {
		return s
	}
	cut := maxShown
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// escapePointer escapes a member name as a JSON pointer token (RFC 6901).
func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// line is a line of a document shown beside another, marked when it is
// not in the other.
type line struct {
	Text   string
	Marked bool
}

// maxLineCells bounds the line comparison (lines of A times lines of B);
// longer documents are shown without marks.
const maxLineCells = 1_000_000

// sideBySide splits two texts into lines and marks those not in their
// longest common subsequence (a trailing comma aside): what was removed
// from a and added in b.
func sideBySide(a, b string) (la, lb []line, marked bool) {
	as, bs := strings.Split(a, "\n"), strings.Split(b, "\n")
	la, lb = make([]line, len(as)), make([]line, len(bs))
	for i, s := range as {
		la[i].Text = s
	}
	for i, s := range bs {
		lb[i].Text = s
	}
	if len(as)*len(bs) > maxLineCells {
		return la, lb, false
	}
	// A member that became the last of its object, or stopped being it,
	// is the same line.
	key := func(ls []string) []string {
		out := make([]string, len(ls))
		for i, s := range ls {
			out[i] = strings.TrimSuffix(s, ",")
		}
		return out
	}
	as, bs = key(as), key(bs)
	// lcs[i][j] is the length of the LCS of as[i:] and bs[j:].
	n, m := len(as), len(bs)
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if as[i] == bs[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case as[i] == bs[j]:
			i, j = i+1, j+1
		case lcs[i+1][j] >= lcs[i][j+1]:
			la[i].Marked = true
			i++
		default:
			lb[j].Marked = true
			j++
		}
	}
	for ; i < n; i++ {
		la[i].Marked = true
	}
	for ; j < m; j++ {
		lb[j].Marked = true
	}
	return la, lb, true
}
