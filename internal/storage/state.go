package storage

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/p2pshare/p2pshare/internal/manifest"
)

// The state file records which pieces of a fetch were written and synced, so
// that a later run can resume. Its layout is
//
//	stateMagic | identity [32]byte | piece count uint32 big-endian | bitfield
//
// where the bitfield is MSB-first with (count+7)/8 bytes and zero padding
// bits. Nothing in it is trusted on resume: every piece it lists is re-hashed.
const stateMagic = "p2pshare state v1\n"

// identityPrefix domain-separates the share identity from other SHA-256 uses.
const identityPrefix = "p2pshare state identity v1\x00"

// errBadState is wrapped by every error decodeState returns.
var errBadState = errors.New("storage: bad state file")

// shareIdentity is the SHA-256 of a canonical description of m's content: the
// piece size, the piece count and every piece hash. A state file written for
// another share carries another identity and is ignored.
func shareIdentity(m *manifest.Manifest) [sha256.Size]byte {
	h := sha256.New()
	var b [8]byte
	h.Write([]byte(identityPrefix))
	binary.BigEndian.PutUint64(b[:], uint64(m.PieceSize))
	h.Write(b[:])
	binary.BigEndian.PutUint64(b[:], uint64(len(m.Pieces)))
	h.Write(b[:])
	for i := range m.Pieces {
		h.Write(m.Pieces[i][:])
	}
	var id [sha256.Size]byte
	h.Sum(id[:0])
	return id
}

// stateSize is the exact length of a state file for n pieces.
func stateSize(n int) int {
	return len(stateMagic) + sha256.Size + 4 + (n+7)/8
}

// encodeState returns the state file for a share with identity id whose n
// pieces are held as given by the MSB-first bitfield have.
func encodeState(id [sha256.Size]byte, n int, have []byte) []byte {
	b := make([]byte, 0, stateSize(n))
	b = append(b, stateMagic...)
	b = append(b, id[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	return append(b, have[:(n+7)/8]...)
}

// decodeState parses a state file for a share with identity id and n pieces
// and returns its bitfield. It allocates nothing beyond the (n+7)/8 bytes of
// the result, whatever data holds, and refuses anything but an exact match.
func decodeState(data []byte, id [sha256.Size]byte, n int) ([]byte, error) {
	if n < 0 || int64(n) > int64(^uint32(0)) {
		return nil, fmt.Errorf("%w: piece count %d out of range", errBadState, n)
	}
	if want := stateSize(n); len(data) != want {
		return nil, fmt.Errorf("%w: %d bytes, want %d", errBadState, len(data), want)
	}
	if string(data[:len(stateMagic)]) != stateMagic {
		return nil, fmt.Errorf("%w: magic %q, want %q", errBadState, data[:len(stateMagic)], stateMagic)
	}
	data = data[len(stateMagic):]
	if [sha256.Size]byte(data[:sha256.Size]) != id {
		return nil, fmt.Errorf("%w: share identity %x, want %x", errBadState, data[:sha256.Size], id)
	}
	data = data[sha256.Size:]
	if got := binary.BigEndian.Uint32(data); int64(got) != int64(n) {
		return nil, fmt.Errorf("%w: piece count %d, want %d", errBadState, got, n)
	}
	data = data[4:]
	if n%8 != 0 && data[len(data)-1]&(0xff>>(n%8)) != 0 {
		return nil, fmt.Errorf("%w: padding bits set in last byte %#02x", errBadState, data[len(data)-1])
	}
	return append(make([]byte, 0, len(data)), data...), nil
}

// loadState reads and decodes the state file at path. It reads at most one
// byte more than a valid file can have, so a huge file costs nothing.
func loadState(path string, id [sha256.Size]byte, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(stateSize(n))+1))
	if err != nil {
		return nil, fmt.Errorf("storage: reading state file %s: %w", path, err)
	}
	return decodeState(data, id, n)
}

// openState opens the state file of a fetch at path for the fetch's
// lifetime and writes data, the state as the fetch opens, into it at its
// full size. That reserves the file's space: writeState later rewrites
// those bytes in place and needs no more, so a fetch that fills the disk
// can still record what it wrote. A state file of any other size is cut
// to data's first. The write is not synced: until the first writeState,
// a crash loses nothing the fetch would not fetch again anyway.
func openState(path string, data []byte) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("storage: opening state file: %w", err)
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() != int64(len(data)) {
		err = f.Truncate(int64(len(data)))
	}
	if err == nil {
		_, err = f.WriteAt(data, 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("storage: reserving %d bytes for state file %s: %w", len(data), path, err)
	}
	return f, nil
}

// writeState durably rewrites the state file f, opened by openState, with
// data, in place: the bytes it overwrites were allocated when the fetch
// opened, so the write holds on a full disk. A crash during it can tear
// only the bitfield (the header is the same in every write of a fetch),
// and a torn bitfield is harmless: every piece it lists is re-hashed on
// resume, and a piece it fails to list is fetched again.
func writeState(f *os.File, data []byte) error {
	_, err := f.WriteAt(data, 0)
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		return fmt.Errorf("storage: writing state file %s: %w", f.Name(), err)
	}
	return nil
}
