package classview

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func sampleReport() Report {
	return Report{UploadCap: 4 << 20, DownloadCap: 0, Shares: []ShareReport{
		{Share: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", Name: "lab4.qcow2", Bytes: 10, Total: 100, Uploaded: 5, Downloaded: 12, UpRate: 3, DownRate: 300, AgeMillis: 2500},
		{Share: "bafkreib", Name: "quiz", Origin: true, Complete: true, Bytes: 7, Total: 7, Uploaded: 1 << 40},
		{Share: "bafkreic", Stopped: true, Bytes: 1, Total: 9, Err: "swarm: disk: no space left on device"},
	}}
}

func TestReportRoundTrip(t *testing.T) {
	for _, r := range []Report{{}, sampleReport()} {
		b, err := r.Encode()
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeReport(b)
		if err != nil {
			t.Fatalf("DecodeReport(Encode(%+v)): %v", r, err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("round trip: got %+v, want %+v", got, r)
		}
	}
}

func TestReportLimits(t *testing.T) {
	good, err := sampleReport().Encode()
	if err != nil {
		t.Fatal(err)
	}
	many := Report{}
	for range MaxShares + 1 {
		many.Shares = append(many.Shares, ShareReport{Share: "x"})
	}
	tests := []struct {
		name   string
		report *Report // encoded, if set
		bytes  []byte  // decoded, if set
		want   error
		reason string
	}{
		{name: "too many shares", report: &many, want: ErrMessageTooLarge, reason: "65 shares"},
		{name: "held more than total", report: &Report{Shares: []ShareReport{{Share: "x", Bytes: 2, Total: 1}}}, want: ErrMalformed, reason: "2 bytes held of 1"},
		{name: "negative cap", report: &Report{UploadCap: -1}, want: ErrMalformed},
		{name: "long name", report: &Report{Shares: []ShareReport{{Share: "x", Name: strings.Repeat("n", MaxNameLen+1)}}}, want: ErrMalformed, reason: "share name of 256 bytes"},
		{name: "no infohash", report: &Report{Shares: []ShareReport{{}}}, want: ErrMalformed},
		{name: "not UTF-8", report: &Report{Shares: []ShareReport{{Share: "x", Err: "\xff"}}}, want: ErrMalformed, reason: "UTF-8"},
		{name: "huge", bytes: make([]byte, MaxReportSize+1), want: ErrMessageTooLarge},
		{name: "empty", bytes: []byte{}, want: ErrMalformed, reason: "truncated at version"},
		{name: "version 2", bytes: []byte{2, 0, 0, 0}, want: ErrMalformed, reason: "version 2"},
		{name: "share count past the limit, before allocating", bytes: []byte{1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, want: ErrMessageTooLarge},
		{name: "non-minimal varint", bytes: []byte{1, 0x80, 0x00, 0, 0}, want: ErrMalformed, reason: "non-minimal"},
		{name: "string longer than what is left", bytes: []byte{1, 0, 0, 1, 100, 'x'}, want: ErrMalformed, reason: "infohash of 100 bytes"},
		{name: "trailing byte", bytes: append(append([]byte{}, good...), 0), want: ErrMalformed, reason: "1 bytes after"},
		{name: "unknown flag", bytes: []byte{1, 0, 0, 1, 1, 'x', 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0}, want: ErrMalformed, reason: "unknown flags"},
		{name: "truncated", bytes: good[:len(good)-3], want: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.report != nil {
				_, err = tt.report.Encode()
			} else {
				_, err = DecodeReport(tt.bytes)
			}
			if !errors.Is(err, tt.want) || !strings.Contains(errString(err), tt.reason) {
				t.Errorf("error %v, want %v with %q", err, tt.want, tt.reason)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
