package middleware

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/url"
)

// This file decides how a token is bound to its sender, the binding step of
// ValidateToken, for JWTs and opaque tokens alike (an introspection answer's
// "cnf" binds the token as a JWT's does, RFC 7662 §2.2):
//
//   - a token without "cnf" is a bearer token, accepted as Bearer;
//   - a DPoP-bound token ("cnf" "jkt", RFC 9449 §6) is accepted only with
//     the DPoP scheme and a valid proof (dpop.go), never as Bearer;
//   - a certificate-bound token ("cnf" "x5t#S256", RFC 8705 §3) is accepted
//     only from a client presenting that certificate (mtls.go);
//   - a token bound in a way bearerguard cannot check is refused, however
//     it is presented (RFC 7800 §3: possession must be confirmed): a "cnf"
//     naming any member besides "jkt" and "x5t#S256" ("jwk", "jwe",
//     "jku", "kid", one it does not know), or naming none (payload.go).
//
// What the step needs of the request is carried by a presentation, built
// by Check; ValidateToken's is the zero presentation: a bearer token with
// no request around it.

// presentation is how a token was presented: the facts of the request the
// binding step needs.
type presentation struct {
	dpop       bool     // sent with "Authorization: DPoP"
	proofs     []string // the DPoP header field lines
	method     string   // the request method (htm)
	scheme     string   // "https" or "http", or DPoP.PublicBaseURL's (htu)
	host       string   // r.Host, or DPoP.PublicBaseURL's (htu)
	path       string   // the path of the request-target as sent (htu)
	tls        *tls.ConnectionState
	certHeader []string // the values of MTLS.CertificateHeader, if configured
	lookup     lookup   // the token cache lookup made during extraction, if any
	// judged is set by validate as soon as it knows the token's issuer:
	// the rules the token is judged by, which the steps after the
	// pipeline (step-up) and the refusal log read, as resolved at run
	// time or not; nil for a token refused before its issuer was known.
	judged *trust
}

// present returns the presentation of a token of r sent with the DPoP
// scheme or not.
func (v *Validator) present(r *http.Request, viaDPoP bool) presentation {
	pr := presentation{dpop: viaDPoP, tls: r.TLS}
	if h := v.cfg.MTLS.CertificateHeader; h != "" {
		pr.certHeader = r.Header.Values(h)
	}
	if !viaDPoP {
		return pr
	}
	pr.proofs = r.Header.Values("DPoP")
	pr.method = r.Method
	pr.scheme, pr.host = "http", r.Host
	if r.TLS != nil {
		pr.scheme = "https"
	}
	if b := v.publicBase; b != nil {
		pr.scheme, pr.host = b.Scheme, b.Host
	}
	pr.path = requestPath(r)
	return pr
}

// requestPath returns the path of the URI the client requested, which its
// DPoP proof signs (RFC 9449 §4.3, check 9): that of the request-target as
// received, r.RequestURI, which routing leaves as it is while it rewrites
// r.URL (http.StripPrefix, Echo's Rewrite middleware, Gin's HandleContext),
// so that a proof for the mounted path is accepted and one for the path
// the routing made of it is not. A request without a RequestURI (made in
// process, not received by a server) has only r.URL.
func requestPath(r *http.Request) string {
	if r.RequestURI != "" {
		if u, err := url.ParseRequestURI(r.RequestURI); err == nil {
			return u.EscapedPath()
		}
	}
	if r.URL == nil {
		return ""
	}
	return r.URL.EscapedPath()
}

// checkBinding checks that the token whose confirmation is cnf (nil: none)
// was presented as its binding requires.
func (v *Validator) checkBinding(ctx context.Context, cnf *confirmation, token string, pr *presentation) error {
	if cnf != nil && !cnf.checkable() {
		return invalidToken(ErrUnsupportedConfirmation, nil)
	}
	if pr.dpop {
		if cnf == nil || len(cnf.JKT) == 0 {
			return invalidToken(ErrNotDPoPBound, nil)
		}
		if err := v.checkProof(ctx, cnf, token, pr); err != nil {
			return err
		}
	} else if cnf != nil && len(cnf.JKT) > 0 {
		return invalidToken(ErrSenderConstrained, nil)
	}
	if cnf != nil && len(cnf.X5TS256) > 0 {
		return v.checkCertificate(cnf, pr)
	}
	return nil
}
