package picker

import "math/bits"

// bitset is a fixed-size set of piece indexes, 64 to a word, so the picker
// can combine whole peers' holdings a word at a time.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) has(i int) bool { return b[i>>6]&(1<<(uint(i)&63)) != 0 }
func (b bitset) set(i int)      { b[i>>6] |= 1 << (uint(i) & 63) }
func (b bitset) clear(i int)    { b[i>>6] &^= 1 << (uint(i) & 63) }

// each calls fn for every index set in word-wise (a &^ b &^ c &^ d).
func each(a, b, c, d, e bitset, fn func(i int)) {
	for w := range a {
		x := a[w] &^ b[w] &^ c[w] &^ d[w]
		if e != nil {
			x &^= e[w]
		}
		for x != 0 {
			t := bits.TrailingZeros64(x)
			fn(w<<6 | t)
			x &= x - 1
		}
	}
}
