package middleware

// This file decides how a token is bound to its sender. Today only bearer
// tokens are accepted: a token bound to a key through "cnf" (a DPoP key,
// RFC 9449 §6, or a client certificate, RFC 8705 §3) is refused, since the
// proof of possession it requires is not checked.

// checkBinding refuses a sender-constrained token presented as a bearer
// token (RFC 9449 §7.2, RFC 8705 §3), JWT or opaque: an introspection
// answer's "cnf" binds the token as a JWT's does (RFC 7662 §2.2).
func checkBinding(p *payload) error {
	if p.bound() {
		return invalidToken(ErrSenderConstrained, nil)
	}
	return nil
}
