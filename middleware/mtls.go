package middleware

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"net/url"
	"strings"

	"github.com/bearerguard/bearerguard/internal/jsonscan"
)

// This file checks certificate-bound tokens (RFC 8705 §3): the token's
// "cnf" "x5t#S256" must be the SHA-256 thumbprint of the client
// certificate, which is the first certificate of the request's TLS
// connection or, with MTLS.CertificateHeader, the one a TLS-terminating
// proxy put in that header, and then only that one.

// The formats of MTLS.CertificateHeaderFormat.
const (
	certPEMURLEncoded = "pem-urlencoded" // nginx $ssl_client_escaped_cert
	certXFCC          = "xfcc"           // Envoy X-Forwarded-Client-Cert
)

// errNoCertificate is the cause of ErrCertificateMismatch when the request
// presents no usable certificate.
var errNoCertificate = errors.New("no client certificate")

// checkCertificate checks the token's x5t#S256 against the request's
// client certificate.
func (v *Validator) checkCertificate(cnf *confirmation, pr *presentation) error {
	want, err := jsonscan.String(cnf.X5TS256)
	if err != nil {
		return invalidToken(ErrMalformedToken, err)
	}
	sum, ok := v.clientCertificate(pr)
	if !ok {
		// No certificate: the token was sent as a plain bearer token.
		return invalidToken(ErrSenderConstrained, errNoCertificate)
	}
	if !equalB64(want, sum) {
		return invalidToken(ErrCertificateMismatch, nil)
	}
	return nil
}

// clientCertificate returns the SHA-256 hash of the client certificate's
// DER encoding, and whether there is one.
func (v *Validator) clientCertificate(pr *presentation) ([]byte, bool) {
	if v.cfg.MTLS.CertificateHeader == "" {
		if pr.tls == nil || len(pr.tls.PeerCertificates) == 0 {
			return nil, false
		}
		sum := sha256.Sum256(pr.tls.PeerCertificates[0].Raw)
		return sum[:], true
	}
	if len(pr.certHeader) != 1 {
		return nil, false
	}
	if v.cfg.MTLS.CertificateHeaderFormat == certXFCC {
		return xfccHash(pr.certHeader[0])
	}
	return pemHash(pr.certHeader[0])
}

// pemHash decodes a URL-encoded PEM certificate (nginx
// $ssl_client_escaped_cert, Envoy's Cert=) and returns the SHA-256 of its
// DER. A space may be encoded as %20 or, form-style, as "+": the second
// reading is tried when the first is not a certificate (a "+" of the
// base64 is always %2B).
func pemHash(s string) ([]byte, bool) {
	if sum, ok := pemHashOf(url.PathUnescape(s)); ok {
		return sum, true
	}
	return pemHashOf(url.QueryUnescape(s))
}

func pemHashOf(raw string, err error) ([]byte, bool) {
	if err != nil {
		return nil, false
	}
	block, rest := pem.Decode([]byte(raw))
	if block == nil || block.Type != "CERTIFICATE" || strings.TrimSpace(string(rest)) != "" {
		return nil, false
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		return nil, false
	}
	sum := sha256.Sum256(block.Bytes)
	return sum[:], true
}

// xfccHash reads an Envoy X-Forwarded-Client-Cert value of one element
// (one proxy hop: several are refused, since which hop is the client's
// depends on the proxies' settings): its Hash= (hex SHA-256 of the DER) or
// Cert= (URL-encoded PEM), which must agree when both are present.
func xfccHash(s string) ([]byte, bool) {
	var hash, cert string
	for _, pair := range splitUnquoted(s, ';') {
		k, val, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, false
		}
		val = strings.Trim(val, `"`)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "hash":
			hash = val
		case "cert":
			cert = val
		}
	}
	var sum []byte
	if hash != "" {
		b, err := hex.DecodeString(hash)
		if err != nil || len(b) != sha256.Size {
			return nil, false
		}
		sum = b
	}
	if cert != "" {
		c, ok := pemHash(cert)
		if !ok || (sum != nil && string(c) != string(sum)) {
			return nil, false
		}
		sum = c
	}
	return sum, sum != nil
}

// splitUnquoted splits s at sep outside double quotes. A sep of ','
// outside quotes means several elements: nil is returned then.
func splitUnquoted(s string, sep byte) []string {
	var parts []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			return nil
		case c == sep && !quoted:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}
