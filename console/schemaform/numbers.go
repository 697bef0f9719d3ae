package schemaform

import (
	"encoding/json"
	"math/big"
	"strconv"
	"strings"
)

// maxExponent bounds the exponent of a number this package computes with:
// big.Rat would allocate 10^e for "1e999999999".
const maxExponent = 1000

// ratOf returns the value of a JSON number.
func ratOf(v any) (*big.Rat, bool) {
	n, ok := v.(json.Number)
	if !ok || len(n) > 200 {
		return nil, false
	}
	s := string(n)
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || e > maxExponent || e < -maxExponent {
			return nil, false
		}
	}
	r, ok := new(big.Rat).SetString(s)
	return r, ok
}

// decimal writes r in decimal notation, exactly when r has a finite
// decimal expansion (as every number of a schema has).
func decimal(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	d := new(big.Int).Set(r.Denom())
	digits := 0
	for _, p := range []int64{2, 5} {
		bp, n := big.NewInt(p), 0
		for new(big.Int).Mod(d, bp).Sign() == 0 {
			d.Quo(d, bp)
			n++
		}
		digits = max(digits, n)
	}
	if d.Cmp(big.NewInt(1)) != 0 {
		digits = 20
	}
	return r.FloatString(digits)
}

// numberAttrs are the attributes of an <input type="number">.
type numberAttrs struct {
	min, max, step string // "" for none
	hint           string // what the attributes cannot say
}

// bound is the stricter of an inclusive and an exclusive bound.
type bound struct {
	at        *big.Rat
	exclusive bool
}

// boundOf combines JSON Schema's inclusive and exclusive bounds (numbers,
// or draft 4's exclusive booleans). lower picks the larger of two lower
// bounds, else the smaller of two upper bounds.
func boundOf(o *object, inclusive, exclusive string, lower bool) bound {
	var b bound
	if r, ok := ratOf(o.vals[inclusive]); ok {
		b.at = r
		if ex, _ := o.vals[exclusive].(bool); ex {
			b.exclusive = true
		}
	}
	if r, ok := ratOf(o.vals[exclusive]); ok {
		c := 0
		if b.at != nil {
			c = r.Cmp(b.at)
		}
		if b.at == nil || c == 0 || (c > 0) == lower {
			b = bound{at: r, exclusive: true}
		}
	}
	return b
}

// numberAttrsOf turns a number or integer schema's bounds and multipleOf
// into input attributes. HTML has no exclusive bounds, and counts steps
// from min: with a step, min and max are moved to the nearest allowed
// multiples inside the bounds; without one an exclusive bound is kept as
// an inclusive attribute and said in the hint.
func numberAttrsOf(o *object, integer bool) numberAttrs {
	var a numberAttrs
	var step *big.Rat
	if m, ok := ratOf(o.vals["multipleOf"]); ok && m.Sign() > 0 && (m.IsInt() || !integer) {
		step = m
	} else if integer {
		step = big.NewRat(1, 1)
	}
	a.step = "any"
	if step != nil {
		a.step = decimal(step)
	}
	var hints []string
	for _, lower := range []bool{true, false} {
		b := boundOf(o, "maximum", "exclusiveMaximum", false)
		if lower {
			b = boundOf(o, "minimum", "exclusiveMinimum", true)
		}
		if b.at == nil {
			continue
		}
		at := b.at
		if step != nil {
			at = nearestMultiple(b, step, lower)
		} else if b.exclusive && lower {
			hints = append(hints, "greater than "+decimal(b.at))
		} else if b.exclusive {
			hints = append(hints, "less than "+decimal(b.at))
		}
		if lower {
			a.min = decimal(at)
		} else {
			a.max = decimal(at)
		}
	}
	a.hint = strings.Join(hints, " and ")
	return a
}

// nearestMultiple is the multiple of step nearest to b inside it.
func nearestMultiple(b bound, step *big.Rat, lower bool) *big.Rat {
	q := new(big.Rat).Quo(b.at, step)
	n, d := q.Num(), q.Denom()
	k := new(big.Int)
	if lower {
		k.Neg(k.Div(new(big.Int).Neg(n), d)) // ceil: Div rounds down for d > 0
	} else {
		k.Div(n, d)
	}
	at := new(big.Rat).Mul(new(big.Rat).SetInt(k), step)
	if b.exclusive && at.Cmp(b.at) == 0 {
		if lower {
			at.Add(at, step)
		} else {
			at.Sub(at, step)
		}
	}
	return at
}
