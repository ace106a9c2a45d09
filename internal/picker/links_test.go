package picker

import "testing"

func TestLinkTarget(t *testing.T) {
	for _, c := range []struct{ pieces, maxLinks, want int }{
		{1, 60, 6},
		{64, 60, 6},   // a 2 MiB quiz
		{80, 60, 8},   // one more for every eight pieces
		{512, 60, 60}, // a 128 MiB image: maxLinks
		{256, DefaultMaxLinks, 30},
		{255, DefaultMaxLinks, 29},
		{2048, 60, 60},
		{2048, 100, 100},
		{64, 2, 2}, // maxLinks below the floor wins
	} {
		if got := LinkTarget(c.pieces, c.maxLinks); got != c.want {
			t.Errorf("LinkTarget(%d, %d) = %d, want %d", c.pieces, c.maxLinks, got, c.want)
		}
	}
}
