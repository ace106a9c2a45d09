package p2pshare

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// quizInfohash is the infohash of ../testdata/quiz. It changes only if the
// fixture or the manifest's canonical encoding does — and a change of
// encoding would orphan every infohash users hold.
const quizInfohash = "bafkreia7ostie2ae55xeu6f7nkke774lmeigzqex7edxjfksgswxsbnx3a"

func TestQuizFixtureRoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	teacher := testNode(t, nil, nil)
	src := filepath.Join("..", "testdata", "quiz")
	ih, err := teacher.Share(ctx, src, ShareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ih.String() != quizInfohash {
		t.Errorf("infohash of testdata/quiz = %s, pinned %s", ih, quizInfohash)
	}
	student := testNode(t, teacher, nil)
	out := filepath.Join(t.TempDir(), "quiz")
	d, err := student.Fetch(ctx, ih, FetchOptions{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	want, got := readTree(t, src), readTree(t, out)
	if len(want) != len(got) {
		t.Fatalf("fetched %d entries, source has %d", len(got), len(want))
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s differs or is missing", p)
		}
	}
}
