package p2pshare

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// TestDownloadFilesAndHave: Files lists a folder share's regular files in
// content order with their offsets and pieces, the reader seeks to each and
// reads it alone, and Have tells which pieces are held.
func TestDownloadFilesAndHave(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	b := bytes.Repeat([]byte("0123456789"), 4000)
	files := map[string][]byte{"a.txt": []byte("first file"), "sub/b.bin": b, "sub/empty": nil}
	writeTree(t, filepath.Join(dir, "share"), files, "emptydir")
	seed := testNode(t, nil, nil)
	ih, err := seed.Share(ctx, filepath.Join(dir, "share"), ShareOptions{PieceSize: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	leech := testNode(t, seed, nil)
	d, err := leech.Fetch(ctx, ih, FetchOptions{Out: filepath.Join(dir, "out")})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	want := []File{
		{Path: "a.txt", Size: 10, Offset: 0, FirstPiece: 0, EndPiece: 1},
		{Path: "sub/b.bin", Size: 40000, Offset: 10, FirstPiece: 0, EndPiece: 3},
		{Path: "sub/empty", Size: 0, Offset: 40010, FirstPiece: 2, EndPiece: 2},
	}
	if got := d.Files(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Files:\n got %+v\nwant %+v", got, want)
	}
	r := d.Reader(ctx)
	defer r.Close()
	for _, f := range want {
		if _, err := r.Seek(f.Offset, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, f.Size)
		if _, err := io.ReadFull(r, got); err != nil {
			t.Fatalf("reading %s: %v", f.Path, err)
		}
		if !bytes.Equal(got, files[f.Path]) {
			t.Errorf("%s read through Seek differs from the source", f.Path)
		}
	}
	for i, want := range map[int]bool{-1: false, 0: true, 1: true, 2: true, 3: false} {
		if got := d.Have(i); got != want {
			t.Errorf("Have(%d) = %v, want %v", i, got, want)
		}
	}

	// A single-file share lists one file, named as the share.
	src, _ := randomFile(t, dir, 1000)
	ih2, err := seed.Share(ctx, src, ShareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d2, err := leech.Fetch(ctx, ih2, FetchOptions{Out: filepath.Join(dir, "one.bin")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d2.Files(), []File{{Path: "image.bin", Size: 1000, EndPiece: 1}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Files of a single-file share: %+v, want %+v", got, want)
	}
}

// TestDownloadReaderSeeksAndCloses: a Read blocked on a piece nobody can
// send ends with ErrReaderClosed when the reader is closed, without
// stopping the download; once a holder is back, a new reader seeks from
// the start, the current offset and the end, past the end (io.EOF), and
// refuses a negative offset and a bad whence.
func TestDownloadReaderSeeksAndCloses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	boot := testNode(t, nil, nil)
	src, want := randomFile(t, dir, 512<<10)
	first := testNode(t, boot, func(c *Config) { c.UploadLimit = 16 << 10 })
	ih, err := first.Share(ctx, src, ShareOptions{PieceSize: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	leech := testNode(t, boot, nil)
	d, err := leech.Fetch(ctx, ih, FetchOptions{Out: filepath.Join(dir, "out.bin")})
	if err != nil {
		t.Fatal(err)
	}
	// The only holder leaves; once the download has no peer, nothing more
	// can arrive, and a Read of a piece not held blocks.
	first.Close()
	for d.Progress().Peers > 0 {
		select {
		case <-ctx.Done():
			t.Fatal("the download kept its peer after the seeder closed")
		case <-time.After(20 * time.Millisecond):
		}
	}
	missing := -1
	for i := d.Progress().TotalPieces - 1; i >= 0 && missing < 0; i-- {
		if !d.Have(i) {
			missing = i
		}
	}
	if missing < 0 {
		t.Fatal("every piece arrived before the seeder closed; the test wants one missing")
	}
	r := d.Reader(ctx)
	if _, err := r.Seek(int64(missing)*16<<10, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	read := make(chan error, 1)
	go func() {
		_, err := r.Read(make([]byte, 100))
		read <- err
	}()
	r.Close()
	if err := <-read; !errors.Is(err, ErrReaderClosed) || !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("Read blocked on piece %d, then Close: %v, want ErrReaderClosed", missing, err)
	}
	if _, err := r.Seek(0, io.SeekStart); !errors.Is(err, ErrReaderClosed) {
		t.Fatalf("Seek after Close: %v, want ErrReaderClosed", err)
	}

	// A holder again: the download, still running, finds it.
	second := testNode(t, boot, nil)
	if _, err := second.Share(ctx, src, ShareOptions{PieceSize: 16 << 10}); err != nil {
		t.Fatal(err)
	}
	r = d.Reader(ctx)
	defer r.Close()
	read1 := func(whence int, off int64, n int, wantAt int64) {
		t.Helper()
		at, err := r.Seek(off, whence)
		if err != nil || at != wantAt {
			t.Fatalf("Seek(%d, %d) = %d, %v, want %d", off, whence, at, err, wantAt)
		}
		got := make([]byte, n)
		if _, err := io.ReadFull(r, got); err != nil {
			t.Fatalf("reading %d bytes at %d: %v", n, at, err)
		}
		if !bytes.Equal(got, want[at:at+int64(n)]) {
			t.Fatalf("%d bytes at %d differ from the source", n, at)
		}
	}
	size := int64(len(want))
	read1(io.SeekEnd, -100, 100, size-100)
	read1(io.SeekStart, 1000, 20000, 1000)
	read1(io.SeekCurrent, 5, 10, 21005)
	if at, err := r.Seek(10, io.SeekEnd); err != nil || at != size+10 {
		t.Fatalf("Seek past the end: %d, %v", at, err)
	}
	if n, err := r.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("Read past the end: %d, %v, want io.EOF", n, err)
	}
	if _, err := r.Seek(-1, io.SeekStart); err == nil {
		t.Fatal("Seek to -1 succeeded")
	}
	if _, err := r.Seek(0, 7); err == nil {
		t.Fatal("Seek with whence 7 succeeded")
	}
	if err := d.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}
