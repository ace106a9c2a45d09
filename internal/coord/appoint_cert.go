package coord

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// maxSerialHex bounds a certificate serial in hex: RFC 5280 allows 20
// bytes.
const maxSerialHex = 40

// checkSerial checks the shape of the certificate serial an appointment
// names.
func (c *Coordinator) checkSerial() error {
	if c.Serial == "" {
		return nil
	}
	if len(c.Serial) > maxSerialHex || strings.Trim(c.Serial, "0123456789abcdef") != "" {
		return fmt.Errorf("coord: coordinator %.64q: certificate serial %.50q is not up to %d hex digits: %w", c.Name, c.Serial, maxSerialHex, ErrMalformed)
	}
	return nil
}

// AppointCert commits c's appointment with the serial and end of the
// coordinator certificate the root is about to sign for it, and adds c to
// the vote if it is new there, as Appoint does. A coordinator whose
// certificate is renewed is appointed again so, with the new serial: every
// coordinator's log then names the certificate each coordinator holds. A
// zero Since keeps the date of c's first appointment.
func (g *Group) AppointCert(ctx context.Context, c Coordinator) error {
	if err := c.Peer.Validate(); err != nil {
		return fmt.Errorf("coord: appointing peer %q: %w", c.Peer, err)
	}
	if err := c.checkSerial(); err != nil {
		return err
	}
	if c.Since.IsZero() {
		for _, old := range g.Coordinators() {
			if old.Peer == c.Peer {
				c.Since = old.Since
			}
		}
	}
	if c.Since.IsZero() {
		c.Since = time.Now()
	}
	return g.proposeInto(ctx, command{Op: opAppoint, Coordinator: &c}, nil)
}
