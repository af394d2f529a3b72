package dovetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"
)

// writeCertificate creates a self-signed ECDSA P-256 certificate for the
// loopback names clients use (IP 127.0.0.1 and ::1, DNS localhost) and
// writes it and its key as PEM. It returns the hex SHA-256 of the
// certificate's DER, the fingerprint pinning clients compare.
//
// A valid pair already in place (a kept Options.Dir) is reused instead.
//
// The certificate is its own CA (basicConstraints CA:TRUE, keyCertSign),
// so every verifier accepts it as the one trust anchor in a CA file:
// Go's crypto/tls, OpenSSL (mbsync, mpop, fetchmail) and GnuTLS alike.
func writeCertificate(certPath, keyPath string) (string, error) {
	if sum, ok := reusableCertificate(certPath, keyPath); ok {
		return sum, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return "", fmt.Errorf("serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"mailfetch dovetest"}},
		NotBefore:             now.Add(-time.Hour), // tolerate a clock that is a little behind
		NotAfter:              now.Add(90 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", fmt.Errorf("create certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("marshal key: %w", err)
	}
	// The key stays the caller's (root's): Dovecot's config process reads
	// it before it drops privileges.
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return "", err
	}
	// The certificate is public: clients running as other users (the
	// peers run as nobody) read it as their CA file.
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// reusableCertificate reports whether a kept state dir already holds a
// certificate and key that match and stay valid for a week: reusing them
// keeps the fingerprint (and clients' pinning) stable across restarts.
func reusableCertificate(certPath, keyPath string) (string, bool) {
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil || len(pair.Certificate) != 1 {
		return "", false
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil || time.Until(cert.NotAfter) < 7*24*time.Hour || time.Now().Before(cert.NotBefore) {
		return "", false
	}
	if fi, err := os.Stat(keyPath); err != nil || fi.Mode().Perm() != 0o600 {
		return "", false
	}
	sum := sha256.Sum256(pair.Certificate[0])
	return hex.EncodeToString(sum[:]), true
}
