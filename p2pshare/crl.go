package p2pshare

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/p2pshare/p2pshare/internal/membership"
)

// crlNS is the DHT namespace of the network's revocation list: key
// /p2pshare-crl/<network ID>, value the CA-signed CRL (DER). Every member
// stores the newest it sees there, so the list outlives the bootstrap and
// reaches members that were offline when it was pushed.
const crlNS = "p2pshare-crl"

func crlKey(networkID string) string { return "/" + crlNS + "/" + networkID }

// crlValidator accepts only CRLs signed by the network's CA under the
// network's own key, and prefers the highest CRL number.
type crlValidator struct {
	ca        *x509.Certificate
	networkID string
}

func newCRLValidator(caDER []byte) (*crlValidator, error) {
	ca, err := membership.ParseCACert(caDER)
	if err != nil {
		return nil, err
	}
	return &crlValidator{ca: ca, networkID: fmt.Sprintf("%x", membership.Fingerprint(ca))}, nil
}

func (v *crlValidator) parse(key string, value []byte) (*x509.RevocationList, error) {
	id, ok := strings.CutPrefix(key, "/"+crlNS+"/")
	if !ok || id != v.networkID {
		return nil, fmt.Errorf("p2pshare: CRL record under %q, not this network's", key)
	}
	// Signed by the root, or by a coordinator it appointed.
	crl, err := membership.CheckCRL(value, v.ca.Raw)
	if err != nil {
		return nil, fmt.Errorf("p2pshare: CRL record: %w", err)
	}
	return crl, nil
}

// Validate checks a CRL record's key and signature.
func (v *crlValidator) Validate(key string, value []byte) error {
	_, err := v.parse(key, value)
	return err
}

// Version is a CRL record's number (replication.Versioner): the envelope
// must carry it, so nobody can make an old list win by sealing it with a
// bigger version.
func (v *crlValidator) Version(key string, value []byte) (uint64, error) {
	crl, err := v.parse(key, value)
	if err != nil {
		return 0, err
	}
	if crl.Number == nil || crl.Number.Sign() < 0 || !crl.Number.IsUint64() {
		return 0, fmt.Errorf("p2pshare: CRL record numbered %v, not a 64-bit number", crl.Number)
	}
	return crl.Number.Uint64(), nil
}

// Select picks the valid CRL with the highest number.
func (v *crlValidator) Select(key string, values [][]byte) (int, error) {
	best, bestN := -1, int64(-1)
	for i, b := range values {
		crl, err := v.parse(key, b)
		if err != nil || crl.Number == nil {
			continue
		}
		if n := crl.Number.Int64(); n > bestN {
			best, bestN = i, n
		}
	}
	if best < 0 {
		return 0, errors.New("p2pshare: no valid CRL among the records")
	}
	return best, nil
}

// publishCRL stores the node's newest CRL in the DHT, in the background.
func (s *Swarm) publishCRL() {
	if len(s.net.m.CRL()) == 0 {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
		defer cancel()
		if err := s.storeCRL(ctx); err != nil {
			s.log.Debug("storing the CRL in the DHT", "err", err)
		}
	}()
}

// storeCRL publishes the node's newest CRL in the DHT, versioned by its
// number, and keeps refreshing it while the node runs: the list lives as
// long as any member that has seen it.
func (s *Swarm) storeCRL(ctx context.Context) error {
	der := s.net.m.CRL()
	crl, err := x509.ParseRevocationList(der)
	if err != nil || crl.Number == nil || crl.Number.Sign() < 0 || !crl.Number.IsUint64() {
		return fmt.Errorf("p2pshare: the node's own CRL does not parse or has no number: %v", err)
	}
	return s.dht.Publish(ctx, crlKey(s.net.networkID), der, crl.Number.Uint64())
}

// fetchCRL applies the newest CRL the DHT holds, if it is newer than the
// node's own.
func (s *Swarm) fetchCRL(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	crl, err := s.dht.GetValue(ctx, crlKey(s.net.networkID))
	if err != nil {
		return
	}
	if err := s.net.m.ApplyCRL(crl); err != nil && !errors.Is(err, membership.ErrStaleCRL) {
		s.log.Warn("CRL from the DHT", "err", err)
	}
}
