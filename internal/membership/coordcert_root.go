package membership

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The root key offline. Once a network's coordinators are appointed, the
// bootstrap can write the root's key out (to a file the teacher moves to a
// USB stick) and remove it from its data directory: the coordinators, the
// bootstrap among them, go on admitting under their coordinator
// certificates, and the root is brought back only to appoint a
// coordinator or renew their certificates, before they end.

// rootOfflineFile is left in a bootstrap's directory in place of the root
// key it no longer keeps: a note of where the key went.
const rootOfflineFile = "ca.key.offline"

// SetCA makes ca the CA this bootstrap signs with from now on: a
// coordinator's renewed certificate, or, as the root key goes offline, the
// bootstrap's own coordinator certificate in place of the root (or the root
// again, brought back). ca must be of this bootstrap's network. Admissions
// under way finish with the CA they began with.
func (b *Bootstrap) SetCA(ca *CA) error {
	if cur := b.CA(); ca.NetworkID() != cur.NetworkID() {
		return fmt.Errorf("membership: a CA of network %.16s… for a bootstrap of network %.16s…: %w", ca.NetworkID(), cur.NetworkID(), ErrWrongCA)
	}
	b.ca.Store(ca)
	return nil
}

// IsRoot reports whether c is the network's root, which holds its key,
// rather than a coordinator's CA.
func (c *CA) IsRoot() bool { return c.issuer == nil }

// ExportKey writes the root's key to path (PKCS#8 PEM, mode 0600) and
// reads it back to check it. A file already at path is not overwritten
// unless it holds this very key.
func (c *CA) ExportKey(path string) error {
	if c.issuer != nil {
		return fmt.Errorf("membership: coordinator %q holds no root key to write out", c.issuer.Subject.CommonName)
	}
	if _, err := os.Stat(path); err == nil {
		if k, err := readRootKey(path); err != nil || !k.Equal(c.key) {
			return fmt.Errorf("membership: %s exists and does not hold this network's root key: it is left alone; choose another file", path)
		}
		return nil
	}
	pk, err := x509.MarshalPKCS8PrivateKey(c.key)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})); err != nil {
		return err
	}
	if k, err := readRootKey(path); err != nil || !k.Equal(c.key) {
		return fmt.Errorf("membership: %s does not read back as the root key it was written with (%v): keep the key where it is", path, err)
	}
	return nil
}

// TakeRootKeyOffline removes the root key from dir, a bootstrap's
// directory, once the file at keyPath is shown to hold it, and leaves a
// note in its place of where it went and when (RootKeyOffline).
func TakeRootKeyOffline(dir, keyPath string, now time.Time) error {
	if _, err := LoadRootCA(dir, keyPath); err != nil {
		return fmt.Errorf("membership: the root key stays in %s: %w", dir, err)
	}
	abs, err := filepath.Abs(keyPath)
	if err != nil {
		abs = keyPath
	}
	note := fmt.Sprintf("The network's root key was written to %s at %s and removed from here.\n"+
		"Bring it back (seeder -root-key FILE, Config.RootKeyFile) to appoint coordinators or renew their certificates.\n", abs, stamp(now))
	if err := writeFileAtomic(filepath.Join(dir, rootOfflineFile), []byte(note)); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(dir, caKeyFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("membership: removing the root key: %w", err)
	}
	return syncDir(dir)
}

// RootKeyOffline reports whether dir is a bootstrap's directory whose root
// key was taken offline (TakeRootKeyOffline) and is not back, with the
// note of where it went.
func RootKeyOffline(dir string) (note string, offline bool) {
	if _, err := os.Stat(filepath.Join(dir, caKeyFile)); err == nil {
		return "", false
	}
	b, err := os.ReadFile(filepath.Join(dir, rootOfflineFile))
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

// LoadRootCA is the root whose certificate dir keeps, with its key read
// from keyPath (brought back from where it was kept offline). The key file
// may have any mode: a USB stick's file system keeps none.
func LoadRootCA(dir, keyPath string) (*CA, error) {
	certPath := filepath.Join(dir, caCertFile)
	cb, err := readPEM(certPath, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	cert, err := ParseCACert(cb)
	if err != nil {
		return nil, fmt.Errorf("membership: %s: %w", certPath, err)
	}
	key, err := readRootKey(keyPath)
	if err != nil {
		return nil, err
	}
	if !key.Public().(ed25519.PublicKey).Equal(cert.PublicKey) {
		fp := Fingerprint(cert)
		return nil, fmt.Errorf("membership: %s is not the root key of network %x… (%s): %w", keyPath, fp[:8], certPath, ErrWrongCA)
	}
	return &CA{cert: cert, key: key, fp: Fingerprint(cert)}, nil
}

// readRootKey reads an Ed25519 PKCS#8 key kept as PEM at path.
func readRootKey(path string) (ed25519.PrivateKey, error) {
	kb, err := readPEM(path, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(kb)
	if err != nil {
		return nil, fmt.Errorf("membership: key %s: %v: %w", path, err, ErrMalformed)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("membership: key %s is a %T, want Ed25519: %w", path, k, ErrMalformed)
	}
	return key, nil
}

// SaveCoordinatorCert keeps a coordinator's certificate at path (DER,
// mode 0600), replacing the one there at once or not at all.
func SaveCoordinatorCert(path string, der []byte) error {
	if _, err := ParseCoordinatorCert(der); err != nil {
		return err
	}
	return writeFileAtomic(path, der)
}

// ReadRootCert is the DER of the root certificate a bootstrap keeps in
// dir.
func ReadRootCert(dir string) ([]byte, error) {
	return readPEM(filepath.Join(dir, caCertFile), "CERTIFICATE")
}
