package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ManifestProtocol is the libp2p protocol ID on which any member that holds a
// share serves its manifest: the asker sends the infohash, the holder answers
// with the manifest's bytes or a refusal.
const ManifestProtocol = "/p2pshare/manifest/1.0.0"

// ErrUnknownShare is the answer of a member that does not hold the share.
var ErrUnknownShare = errors.New("wire: peer does not hold that share")

// WriteManifestRequest asks for the manifest of infohash.
func WriteManifestRequest(w io.Writer, infohash []byte) error {
	if len(infohash) == 0 || len(infohash) > MaxInfohashLen {
		return fmt.Errorf("%w: infohash of %d bytes", ErrMalformed, len(infohash))
	}
	_, err := w.Write(append(binary.AppendUvarint(nil, uint64(len(infohash))), infohash...))
	return err
}

// ReadManifestRequest reads the infohash an asker sent.
func ReadManifestRequest(r io.Reader) ([]byte, error) {
	return readBlob(bufio.NewReaderSize(r, MaxInfohashLen+10), MaxInfohashLen)
}

// WriteManifestResponse answers with the manifest's bytes, or, for nil
// manifest, with "unknown share".
func WriteManifestResponse(w io.Writer, manifest []byte) error {
	if manifest == nil {
		_, err := w.Write([]byte{1})
		return err
	}
	b := append([]byte{0}, binary.AppendUvarint(nil, uint64(len(manifest)))...)
	if _, err := w.Write(b); err != nil {
		return err
	}
	_, err := w.Write(manifest)
	return err
}

// ReadManifestResponse reads an answer of at most max manifest bytes. It
// returns ErrUnknownShare for a refusal.
func ReadManifestResponse(r io.Reader, max int) ([]byte, error) {
	br := bufio.NewReader(r)
	status, err := br.ReadByte()
	if err != nil {
		return nil, noEOF(err)
	}
	switch status {
	case 0:
		return readBlob(br, max)
	case 1:
		return nil, ErrUnknownShare
	}
	return nil, fmt.Errorf("%w: manifest response status %d", ErrMalformed, status)
}

// readBlob reads a uvarint length (at most max) and that many bytes.
func readBlob(br *bufio.Reader, max int) ([]byte, error) {
	n, err := binary.ReadUvarint(br)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("%w: length: %v", ErrMalformed, err)
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: empty blob", ErrMalformed)
	}
	if n > uint64(max) {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, n, max)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		return nil, noEOF(err)
	}
	return b, nil
}
