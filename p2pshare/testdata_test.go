package p2pshare

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// quizInfohash is the infohash of ../testdata/quiz. It changes only if the
// fixture, the manifest's canonical encoding or the default piece size
// (manifest.PieceSizeFor) does. A change of encoding would orphan every
// infohash users hold; a change of piece size only gives a share made anew
// another name, the old one fetching as before.
const quizInfohash = "bafkreifi6zrj6xp6ojxbqhrbcq4nhubx7w6gyadbmdphfjsnu2epfuibmu"

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
