package schemaform

import (
	"sort"
	"strings"
)

// placement hands each error to the field it belongs to. Fields claim
// errors after their children have (render.go renders a container's
// children first), so an error goes to the deepest rendered field whose
// pointer is the error's or an ancestor of it: an error at "/data/7" of a
// three-item list shows on the list, one at "" or at no valid pointer on
// the form.
type placement struct {
	keys  []string // sorted, so that the errors under a pointer are adjacent
	msgs  map[string]string
	shown []bool
}

func newPlacement(errs map[string]string) *placement {
	p := &placement{msgs: errs}
	for k := range errs {
		p.keys = append(p.keys, k)
	}
	sort.Strings(p.keys)
	p.shown = make([]bool, len(p.keys))
	return p
}

// claim returns the messages not yet shown at ptr or under it, the one at
// ptr first and the others prefixed with their pointer. A field that is
// not live (in a template row, in an alternative not chosen) claims none.
func (p *placement) claim(ptr string, live bool) []string {
	if !live {
		return nil
	}
	var out []string
	for i := sort.SearchStrings(p.keys, ptr); i < len(p.keys) && strings.HasPrefix(p.keys[i], ptr); i++ {
		k := p.keys[i]
		if p.shown[i] || !under(k, ptr) {
			continue
		}
		p.shown[i] = true
		if k == ptr {
			out = append(out, p.msgs[k])
		} else {
			out = append(out, k+": "+p.msgs[k])
		}
	}
	return out
}
