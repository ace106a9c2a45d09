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
	ErrExpiryTooFar     = errors.New("replication: record expiry beyond the record TTL")
	ErrVersionMismatch  = errors.New("replication: envelope version is not the payload's")
)

// ExpirySkew is how far past now + MaxTTL a record's expiry may lie: the
// clock skew between a publisher and a holder that is tolerated.
const ExpirySkew = time.Hour

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

// Versioner is implemented by an Inner validator whose payloads carry their
// own version: a revocation list its number, a certificate its issue time.
// Version returns it; Validator then refuses an envelope whose Version
// differs and ranks copies by the payload's version, so a sender cannot
// make a stale payload win by sealing it with a bigger number.
type Versioner interface {
	Version(key string, payload []byte) (uint64, error)
}

// Validator wraps a namespace's validator for enveloped values: the envelope
// must decode, be unexpired, expire no later than MaxTTL (plus ExpirySkew)
// from now, carry the payload's own version if Inner is a Versioner, and
// the payload must pass Inner. Select prefers the highest version, then the
// latest expiry, then Inner's choice. Register it with
// dht.NamespacedValidator(ns, Validator{...}) so kad-dht checks every
// stored and fetched value with it.
//
// A record claiming to live longer than MaxTTL is refused, not stored with
// its expiry cut: the bytes a holder keeps are the bytes the publisher
// sealed (kad-dht stores values as given, and a cut copy would differ from
// its publisher's), and an honest publisher never seals an expiry past
// now + TTL, so only a liar, or a clock off by more than ExpirySkew, is
// refused.
type Validator struct {
	Inner record.Validator // checks the payload; required
	Now   func() time.Time // the clock expiry is judged by; required
	// MaxTTL is the longest a record may live from now (the record TTL);
	// 0 means no limit.
	MaxTTL time.Duration
}

// Validate implements record.Validator.
func (v Validator) Validate(key string, value []byte) error {
	e, err := Open(value)
	if err != nil {
		return err
	}
	if err := v.checkExpiry(key, e.Expiry); err != nil {
		return err
	}
	if err := v.Inner.Validate(key, e.Payload); err != nil {
		return err
	}
	if vr, ok := v.Inner.(Versioner); ok {
		want, err := vr.Version(key, e.Payload)
		if err != nil {
			return err
		}
		if e.Version != want {
			return fmt.Errorf("%w: key %q sealed as version %d, its payload is version %d", ErrVersionMismatch, key, e.Version, want)
		}
	}
	return nil
}

// checkExpiry refuses an expiry that has passed or lies beyond MaxTTL.
func (v Validator) checkExpiry(key string, expiry time.Time) error {
	now := v.Now()
	if Expired(now, expiry) {
		return fmt.Errorf("%w: key %q expired at %s", ErrExpired, key, expiry.UTC().Format(time.RFC3339))
	}
	if v.MaxTTL > 0 {
		if limit := now.Add(v.MaxTTL + ExpirySkew); expiry.After(limit) {
			return fmt.Errorf("%w: key %q expires at %s, limit %s (TTL %s)", ErrExpiryTooFar, key,
				expiry.UTC().Format(time.RFC3339), limit.UTC().Format(time.RFC3339), v.MaxTTL)
		}
	}
	return nil
}

// rank opens value and returns the version Select ranks it by: the
// payload's own when Inner is a Versioner. ok is false for a value that
// does not decode, or lives past MaxTTL, or whose version does not derive.
func (v Validator) rank(key string, value []byte) (Envelope, bool) {
	e, err := Open(value)
	if err != nil {
		return e, false
	}
	if v.MaxTTL > 0 && e.Expiry.After(v.Now().Add(v.MaxTTL+ExpirySkew)) {
		return e, false
	}
	if vr, ok := v.Inner.(Versioner); ok {
		n, err := vr.Version(key, e.Payload)
		if err != nil {
			return e, false
		}
		e.Version = n
	}
	return e, true
}

// Select implements record.Validator. Values that do not decode, live past
// MaxTTL or carry no version lose.
func (v Validator) Select(key string, values [][]byte) (int, error) {
	best := -1
	var bestE Envelope
	var ties []int
	for i, b := range values {
		e, ok := v.rank(key, b)
		if !ok {
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
