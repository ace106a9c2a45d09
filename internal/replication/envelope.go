package replication

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	record "github.com/libp2p/go-libp2p-record"
)

// envelopeMagic starts every replicated value, so a bare value is refused
// rather than misread.
const envelopeMagic = "p2r1"

// headerLen is the envelope's fixed header: magic, version, expiry.
const headerLen = len(envelopeMagic) + 8 + 8

// MaxEnvelopeSize bounds an envelope: kad-dht's 4 MiB message limit, less
// room for the rest of the message.
const MaxEnvelopeSize = 4<<20 - 64<<10

// Envelope errors; a decoder returns them wrapped with the offending value.
var (
	ErrNotEnvelope      = errors.New("replication: not an envelope")
	ErrEnvelopeTooLarge = errors.New("replication: envelope too large")
	ErrExpired          = errors.New("replication: record expired")
)

// Envelope is what a replicated DHT value carries around the publisher's
// bytes: a version, so conflicting copies resolve to the newest, and an
// absolute expiry, so holders that re-store a key cannot keep it alive after
// its publisher stops refreshing it (kad-dht re-stamps TimeReceived on every
// store, so that field cannot carry a TTL across republishes).
type Envelope struct {
	Version uint64
	Expiry  time.Time // second precision
	Payload []byte
}

// Seal encodes e as a DHT value.
func (e Envelope) Seal() []byte {
	b := make([]byte, headerLen, headerLen+len(e.Payload))
	copy(b, envelopeMagic)
	binary.BigEndian.PutUint64(b[4:], e.Version)
	binary.BigEndian.PutUint64(b[12:], uint64(e.Expiry.Unix()))
	return append(b, e.Payload...)
}

// Open decodes a DHT value sealed by Seal. The payload aliases b.
func Open(b []byte) (Envelope, error) {
	if len(b) > MaxEnvelopeSize {
		return Envelope{}, fmt.Errorf("%w: %d bytes, limit %d", ErrEnvelopeTooLarge, len(b), MaxEnvelopeSize)
	}
	if len(b) < headerLen || string(b[:4]) != envelopeMagic {
		return Envelope{}, fmt.Errorf("%w: %d bytes", ErrNotEnvelope, len(b))
	}
	return Envelope{
		Version: binary.BigEndian.Uint64(b[4:]),
		Expiry:  time.Unix(int64(binary.BigEndian.Uint64(b[12:])), 0),
		Payload: b[headerLen:],
	}, nil
}

// Expired reports whether a record with this expiry is dead at now.
func Expired(now, expiry time.Time) bool { return !now.Before(expiry) }

// Validator wraps a namespace's validator for enveloped values: the envelope
// must decode and be unexpired, and the payload must pass Inner. Select
// prefers the highest version, then the latest expiry, then Inner's choice.
// Register it with dht.NamespacedValidator(ns, Validator{...}) so kad-dht
// checks every stored and fetched value with it.
type Validator struct {
	Inner record.Validator // checks the payload; required
	Now   func() time.Time // the clock expiry is judged by; required
}

// Validate implements record.Validator.
func (v Validator) Validate(key string, value []byte) error {
	e, err := Open(value)
	if err != nil {
		return err
	}
	if Expired(v.Now(), e.Expiry) {
		return fmt.Errorf("%w: key %q expired at %s", ErrExpired, key, e.Expiry.UTC().Format(time.RFC3339))
	}
	return v.Inner.Validate(key, e.Payload)
}

// Select implements record.Validator. Values that do not decode lose.
func (v Validator) Select(key string, values [][]byte) (int, error) {
	best := -1
	var bestE Envelope
	var ties []int
	for i, b := range values {
		e, err := Open(b)
		if err != nil {
			continue
		}
		switch {
		case best < 0 || e.Version > bestE.Version ||
			(e.Version == bestE.Version && e.Expiry.After(bestE.Expiry)):
			best, bestE, ties = i, e, []int{i}
		case e.Version == bestE.Version && e.Expiry.Equal(bestE.Expiry):
			ties = append(ties, i)
		}
	}
	if best < 0 {
		return 0, fmt.Errorf("%w: none of %d values for key %q", ErrNotEnvelope, len(values), key)
	}
	if len(ties) == 1 {
		return best, nil
	}
	payloads := make([][]byte, len(ties))
	for j, i := range ties {
		e, _ := Open(values[i])
		payloads[j] = e.Payload
	}
	j, err := v.Inner.Select(key, payloads)
	if err != nil || j < 0 || j >= len(ties) {
		return best, nil
	}
	return ties[j], nil
}
