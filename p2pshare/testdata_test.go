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
	fetchAndCompareTree(ctx, t, student, ih, src, filepath.Join(t.TempDir(), "quiz"))
}
