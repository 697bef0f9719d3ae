package capbuf

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func TestCappedBuffers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		max    int
		writes []int // sizes of successive writes
	}{
		{"empty", 8, nil},
		{"under", 8, []int{3, 4}},
		{"exactly", 8, []int{4, 4}},
		{"one over", 8, []int{4, 5}},
		{"one big write", 8, []int{20}},
		{"big write after small", 8, []int{2, 8}},
		{"many small", 8, []int{1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 7}},
		{"random", 64, randomSizes(200, 50)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			head := &Head{Max: tt.max}
			tail := &Tail{Max: tt.max}
			var all []byte
			for i, size := range tt.writes {
				p := bytes.Repeat([]byte{byte('a' + i%26)}, size)
				all = append(all, p...)
				for _, w := range []interface {
					Write([]byte) (int, error)
				}{head, tail} {
					if n, err := w.Write(p); n != len(p) || err != nil {
						t.Fatalf("Write(%d bytes) = %d, %v", len(p), n, err)
					}
				}
			}
			over := len(all) > tt.max
			wantHead, wantTail := all, all
			if over {
				wantHead, wantTail = all[:tt.max], all[len(all)-tt.max:]
			}
			if !bytes.Equal(head.Bytes(), wantHead) || head.Truncated() != over {
				t.Errorf("head = %q truncated %v, want %q truncated %v", head.Bytes(), head.Truncated(), wantHead, over)
			}
			if !bytes.Equal(tail.Bytes(), wantTail) || tail.Truncated() != over {
				t.Errorf("tail = %q truncated %v, want %q truncated %v", tail.Bytes(), tail.Truncated(), wantTail, over)
			}
			if cap(tail.buf) > 4*tt.max+64 {
				t.Errorf("tail backing array grew to %d bytes for a cap of %d", cap(tail.buf), tt.max)
			}
		})
	}
}

func randomSizes(n, max int) []int {
	r := rand.New(rand.NewPCG(1, 2))
	sizes := make([]int, n)
	for i := range sizes {
		sizes[i] = r.IntN(max)
	}
	return sizes
}
