package message

import (
	"errors"
	"testing"
	"time"
)

func TestCheckSent(t *testing.T) {
	now := time.Date(2026, 9, 1, 9, 0, 0, 0, time.UTC)
	ttl := 7 * 24 * time.Hour
	for _, c := range []struct {
		name string
		sent time.Time
		want error
	}{
		{"now", now, nil},
		{"sender's clock ahead, within the skew", now.Add(Skew), nil},
		{"beyond the skew ahead", now.Add(Skew + time.Second), ErrFuture},
		{"a year ahead", now.AddDate(1, 0, 0), ErrFuture},
		{"as old as a message lives", now.Add(-ttl), nil},
		{"lifetime plus the skew", now.Add(-ttl - Skew), nil},
		{"past lifetime plus skew", now.Add(-ttl - Skew - time.Second), ErrStale},
		{"the zero time", time.Unix(0, 0), ErrStale},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := CheckSent(c.sent, now, ttl)
			if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Fatalf("CheckSent(%s) = %v, want %v", c.sent, err, c.want)
			}
		})
	}
}
