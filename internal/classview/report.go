package classview

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Report is what a member tells the bootstrap about itself, about once a
// second: its rate caps and, for every share it has open, how far along it
// is. The bootstrap knows who sent it from the authenticated stream, and the
// member's name from its certificate, so neither is in the report.
type Report struct {
	UploadCap, DownloadCap int64 // bytes per second; 0 means none
	Shares                 []ShareReport
}

// ShareReport is one share's line in a Report.
type ShareReport struct {
	Share    string // the infohash, in its string form
	Name     string // the share's file or folder name
	Origin   bool   // the member shared it (it started with every piece)
	Complete bool   // every piece is held
	Stopped  bool   // the member closed the share, or it failed with Err
	Bytes    int64  // verified bytes held
	Total    int64  // the share's size
	Uploaded int64  // piece payload sent so far
	// Downloaded is piece payload received so far, waste included.
	Downloaded       int64
	UpRate, DownRate int64  // bytes per second, over the member's last interval
	Err              string // why the share stopped, if it failed
	// AgeMillis is how long the member has had the share open: the
	// bootstrap dates the class's start by it, whatever the clocks say.
	AgeMillis int64
}

// Limits on a Report: what a decoder accepts before it allocates.
const (
	MaxReportSize = 32 << 10 // bytes of one encoded report
	MaxShares     = 64       // shares in one report
	MaxShareLen   = 128      // bytes of an infohash's string form
	MaxNameLen    = 255      // bytes of a share name
	MaxErrLen     = 256      // bytes of an error text
	maxCount      = 1 << 62  // any byte count or rate
)

// reportVersion is the first byte of every encoded report.
const reportVersion = 1

// Errors a decoder returns, wrapped with what was wrong.
var (
	ErrMessageTooLarge = errors.New("classview: report too large")
	ErrMalformed       = errors.New("classview: malformed report")
)

// Flags of a ShareReport, one bit each.
const (
	flagOrigin = 1 << iota
	flagComplete
	flagStopped
	flagsKnown = flagOrigin | flagComplete | flagStopped
)

// Encode encodes r: a version byte, the two caps, then per share its
// strings (uvarint-length-prefixed), a flags byte, seven uvarints and the
// error text. It
// refuses a report past the limits, so what it encodes Decode accepts.
func (r Report) Encode() ([]byte, error) {
	if len(r.Shares) > MaxShares {
		return nil, fmt.Errorf("%w: %d shares, limit %d", ErrMessageTooLarge, len(r.Shares), MaxShares)
	}
	if err := checkCounts(r.UploadCap, r.DownloadCap); err != nil {
		return nil, err
	}
	b := []byte{reportVersion}
	b = binary.AppendUvarint(b, uint64(r.UploadCap))
	b = binary.AppendUvarint(b, uint64(r.DownloadCap))
	b = binary.AppendUvarint(b, uint64(len(r.Shares)))
	for _, s := range r.Shares {
		if err := s.check(); err != nil {
			return nil, err
		}
		b = appendString(b, s.Share)
		b = appendString(b, s.Name)
		var f byte
		if s.Origin {
			f |= flagOrigin
		}
		if s.Complete {
			f |= flagComplete
		}
		if s.Stopped {
			f |= flagStopped
		}
		b = append(b, f)
		for _, v := range []int64{s.Bytes, s.Total, s.Uploaded, s.Downloaded, s.UpRate, s.DownRate, s.AgeMillis} {
			b = binary.AppendUvarint(b, uint64(v))
		}
		b = appendString(b, s.Err)
	}
	if len(b) > MaxReportSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, len(b), MaxReportSize)
	}
	return b, nil
}

func (s *ShareReport) check() error {
	switch {
	case s.Share == "" || len(s.Share) > MaxShareLen:
		return fmt.Errorf("%w: infohash of %d bytes", ErrMalformed, len(s.Share))
	case len(s.Name) > MaxNameLen:
		return fmt.Errorf("%w: share name of %d bytes, limit %d", ErrMalformed, len(s.Name), MaxNameLen)
	case len(s.Err) > MaxErrLen:
		return fmt.Errorf("%w: error text of %d bytes, limit %d", ErrMalformed, len(s.Err), MaxErrLen)
	case !utf8.ValidString(s.Share) || !utf8.ValidString(s.Name) || !utf8.ValidString(s.Err):
		return fmt.Errorf("%w: text that is not UTF-8", ErrMalformed)
	case s.Bytes > s.Total:
		return fmt.Errorf("%w: %d bytes held of %d", ErrMalformed, s.Bytes, s.Total)
	}
	return checkCounts(s.Bytes, s.Total, s.Uploaded, s.Downloaded, s.UpRate, s.DownRate, s.AgeMillis)
}

func checkCounts(vs ...int64) error {
	for _, v := range vs {
		if v < 0 || v > maxCount {
			return fmt.Errorf("%w: count %d out of range", ErrMalformed, v)
		}
	}
	return nil
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// DecodeReport decodes a report, refusing anything past the limits, any
// unknown flag, non-minimal varint or byte left over. It allocates only for
// what it has already bounds-checked.
func DecodeReport(b []byte) (Report, error) {
	if len(b) > MaxReportSize {
		return Report{}, fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, len(b), MaxReportSize)
	}
	d := decoder{b: b}
	if v := d.byte("version"); d.err == nil && v != reportVersion {
		return Report{}, fmt.Errorf("%w: version %d, want %d", ErrMalformed, v, reportVersion)
	}
	r := Report{UploadCap: d.count("upload cap"), DownloadCap: d.count("download cap")}
	n := d.uvarint("share count")
	if d.err == nil && n > MaxShares {
		return Report{}, fmt.Errorf("%w: %d shares, limit %d", ErrMessageTooLarge, n, MaxShares)
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		s := ShareReport{Share: d.string("infohash", MaxShareLen), Name: d.string("name", MaxNameLen)}
		f := d.byte("flags")
		if d.err == nil && f&^flagsKnown != 0 {
			d.err = fmt.Errorf("%w: unknown flags %#x", ErrMalformed, f)
		}
		s.Origin, s.Complete, s.Stopped = f&flagOrigin != 0, f&flagComplete != 0, f&flagStopped != 0
		s.Bytes, s.Total = d.count("bytes"), d.count("total")
		s.Uploaded, s.Downloaded = d.count("uploaded"), d.count("downloaded")
		s.UpRate, s.DownRate = d.count("up rate"), d.count("down rate")
		s.AgeMillis = d.count("age")
		s.Err = d.string("error", MaxErrLen)
		if d.err == nil {
			d.err = s.check()
		}
		r.Shares = append(r.Shares, s)
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d bytes after the report", ErrMalformed, len(d.b))
	}
	if d.err != nil {
		return Report{}, d.err
	}
	return r, nil
}

// decoder reads fields in order; after the first error every read is a
// no-op returning a zero value.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) byte(field string) byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.err = fmt.Errorf("%w: truncated at %s", ErrMalformed, field)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint(field string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad varint at %s", ErrMalformed, field)
		return 0
	}
	if n != len(binary.AppendUvarint(nil, v)) {
		d.err = fmt.Errorf("%w: non-minimal varint at %s", ErrMalformed, field)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) count(field string) int64 {
	v := d.uvarint(field)
	if d.err == nil && v > maxCount {
		d.err = fmt.Errorf("%w: %s %d out of range", ErrMalformed, field, v)
		return 0
	}
	return int64(v)
}

func (d *decoder) string(field string, limit int) string {
	n := d.uvarint(field)
	if d.err != nil {
		return ""
	}
	if n > uint64(limit) || n > uint64(len(d.b)) {
		d.err = fmt.Errorf("%w: %s of %d bytes (limit %d, %d left)", ErrMalformed, field, n, limit, len(d.b))
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
