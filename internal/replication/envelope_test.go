package replication

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// hashless accepts any payload not equal to "bad" and selects the longest.
type hashless struct{}

func (hashless) Validate(_ string, v []byte) error {
	if string(v) == "bad" {
		return errors.New("bad payload")
	}
	return nil
}

func (hashless) Select(_ string, vs [][]byte) (int, error) {
	best := 0
	for i, v := range vs {
		if len(v) > len(vs[best]) {
			best = i
		}
	}
	return best, nil
}

func TestEnvelope(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	v := Validator{Inner: hashless{}, Now: func() time.Time { return now }}
	seal := func(ver uint64, exp time.Duration, p string) []byte {
		return Envelope{Version: ver, Expiry: now.Add(exp), Payload: []byte(p)}.Seal()
	}
	cases := []struct {
		name  string
		value []byte
		err   error
	}{
		{"valid", seal(1, time.Hour, "x"), nil},
		{"expired", seal(1, -time.Second, "x"), ErrExpired},
		{"expires now", seal(1, 0, "x"), ErrExpired},
		{"bare value", []byte("x"), ErrNotEnvelope},
		{"bad payload", seal(1, time.Hour, "bad"), nil},
		{"too large", make([]byte, MaxEnvelopeSize+1), ErrEnvelopeTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := v.Validate("/ns/k", c.value)
			if c.name == "bad payload" {
				if err == nil {
					t.Fatal("bad payload accepted")
				}
				return
			}
			if !errors.Is(err, c.err) {
				t.Fatalf("Validate = %v, want %v", err, c.err)
			}
		})
	}
	sel := []struct {
		name   string
		values [][]byte
		want   int
	}{
		{"higher version wins", [][]byte{seal(1, time.Hour, "aaaa"), seal(2, time.Minute, "a")}, 1},
		{"later expiry wins", [][]byte{seal(2, time.Hour, "a"), seal(2, time.Minute, "aaaa")}, 0},
		{"tie goes to inner", [][]byte{seal(2, time.Hour, "a"), seal(2, time.Hour, "aaa")}, 1},
		{"garbage loses", [][]byte{[]byte("zz"), seal(0, time.Hour, "a")}, 1},
	}
	for _, c := range sel {
		t.Run(c.name, func(t *testing.T) {
			if got, err := v.Select("/ns/k", c.values); err != nil || got != c.want {
				t.Fatalf("Select = %d, %v; want %d", got, err, c.want)
			}
		})
	}
}

func FuzzOpen(f *testing.F) {
	f.Add(Envelope{Version: 3, Expiry: time.Unix(99, 0), Payload: []byte("hi")}.Seal())
	f.Add([]byte("p2r1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Open(b)
		if err != nil {
			return
		}
		if again := e.Seal(); !bytes.Equal(again, b) {
			t.Fatalf("Seal(Open(b)) = %x, want %x", again, b)
		}
	})
}

// numbered is hashless whose payloads carry their version: its first byte.
type numbered struct{ hashless }

func (numbered) Version(_ string, p []byte) (uint64, error) {
	if len(p) == 0 {
		return 0, errors.New("empty payload has no version")
	}
	return uint64(p[0]), nil
}

// TestEnvelopeLimits: an expiry past the record TTL and a version that is
// not the payload's are refused, and Select ranks by the payload's version,
// so an old payload sealed with a huge version or a far expiry never wins.
func TestEnvelopeLimits(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	ttl := 24 * time.Hour
	v := Validator{Inner: numbered{}, Now: func() time.Time { return now }, MaxTTL: ttl}
	seal := func(ver uint64, exp time.Duration, p ...byte) []byte {
		return Envelope{Version: ver, Expiry: now.Add(exp), Payload: p}.Seal()
	}
	cases := []struct {
		name  string
		value []byte
		err   error
	}{
		{"at the TTL", seal(2, ttl, 2), nil},
		{"within the skew", seal(2, ttl+ExpirySkew, 2), nil},
		{"past the skew", seal(2, ttl+ExpirySkew+time.Second, 2), ErrExpiryTooFar},
		{"years away", seal(2, 10*365*ttl, 2), ErrExpiryTooFar},
		{"inflated version", seal(1<<62, time.Hour, 2), ErrVersionMismatch},
		{"lowered version", seal(1, time.Hour, 2), ErrVersionMismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := v.Validate("/ns/k", c.value); !errors.Is(err, c.err) {
				t.Fatalf("Validate = %v, want %v", err, c.err)
			}
		})
	}
	if err := v.Validate("/ns/k", seal(0, time.Hour)); err == nil {
		t.Fatal("a payload without a version validated")
	}
	sel := []struct {
		name   string
		values [][]byte
		want   int
	}{
		{"payload version beats sealed version", [][]byte{seal(1<<62, time.Hour, 1), seal(3, time.Hour, 3)}, 1},
		{"far expiry loses", [][]byte{seal(3, 10*365*ttl, 3), seal(3, time.Hour, 3)}, 1},
		{"newer payload wins", [][]byte{seal(2, ttl, 2), seal(3, time.Minute, 3)}, 1},
	}
	for _, c := range sel {
		t.Run(c.name, func(t *testing.T) {
			if got, err := v.Select("/ns/k", c.values); err != nil || got != c.want {
				t.Fatalf("Select = %d, %v; want %d", got, err, c.want)
			}
		})
	}
}
