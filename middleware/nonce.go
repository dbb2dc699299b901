package middleware

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"time"
)

// This file mints and checks DPoP server nonces (RFC 9449 §9), turned on by
// DPoP.NonceSecrets. A nonce is stateless: base64url(step || HMAC-SHA256(
// secret, label || step)), step the big-endian 8-byte number of
// DPoPNonceStep periods since the Unix epoch. It is minted with the first
// secret and accepted with any, in its own step and the next (widened by
// Config.Leeway), so that every replica sharing the secrets accepts the
// nonces of the others without a shared store, and secrets can be rotated
// by putting the new one first and dropping the old one later.

// DPoPNonceStep is the time step of DPoP server nonces: a nonce is accepted
// during the step it was minted in and the next one, plus Config.Leeway
// either side, so for one to two minutes. A proof carrying a nonce of the
// previous step is accepted and its answer carries a fresh DPoP-Nonce
// ([Validator.SetSuccessHeaders]).
const DPoPNonceStep = time.Minute

// MinDPoPNonceSecretSize is the smallest DPoP.NonceSecrets entry accepted,
// in bytes: the output size of SHA-256 (RFC 2104 §3).
const MinDPoPNonceSecretSize = 32

// Causes of ErrUseDPoPNonce, for the log.
var (
	errNonceMissing = errors.New("proof has no nonce")
	errNonceInvalid = errors.New("proof nonce not minted here or expired")
)

const (
	nonceLabel = "bearerguard DPoP nonce\x00" // binds the MAC to this use of the secret
	nonceBytes = 8 + sha256.Size
	nonceSize  = (nonceBytes*8 + 5) / 6 // base64url without padding
)

// noncesOn reports whether the validator requires server nonces.
func (v *Validator) noncesOn() bool { return len(v.cfg.DPoP.NonceSecrets) > 0 }

// nonceStepAt returns the step of t.
func nonceStepAt(t time.Time) uint64 {
	return uint64(t.Unix() / int64(DPoPNonceStep/time.Second))
}

// nonceMAC returns the MAC of step under secret.
func nonceMAC(secret []byte, step uint64) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(nonceLabel))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], step)
	m.Write(b[:])
	return m.Sum(nil)
}

// newNonce returns a nonce of the current step, minted with the first
// secret.
func (v *Validator) newNonce() string {
	step := nonceStepAt(v.cfg.now())
	b := binary.BigEndian.AppendUint64(make([]byte, 0, nonceBytes), step)
	b = append(b, nonceMAC(v.cfg.DPoP.NonceSecrets[0], step)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// checkNonce reports whether nonce was minted with one of the secrets in
// a step still accepted, and if so its step and whether a fresh nonce is
// due (it is not of the current step).
func (v *Validator) checkNonce(nonce string) (step uint64, ok, due bool) {
	if len(nonce) != nonceSize {
		return 0, false, false
	}
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != nonceBytes {
		return 0, false, false
	}
	step = binary.BigEndian.Uint64(b[:8])
	now, leeway := v.cfg.now(), v.cfg.leeway()
	if step < nonceStepAt(now.Add(-DPoPNonceStep-leeway)) || step > nonceStepAt(now.Add(leeway)) {
		return 0, false, false
	}
	for _, s := range v.cfg.DPoP.NonceSecrets {
		if hmac.Equal(b[8:], nonceMAC(s, step)) {
			return step, true, step < nonceStepAt(now)
		}
	}
	return 0, false, false
}

// checkProofNonce checks the "nonce" claim of a proof, when nonces are on,
// and returns when that nonce stops being accepted (zero when nonces are
// off): with a nonce of step s, while nonceStepAt(now-DPoPNonceStep-leeway)
// <= s, that is until the start of step s+2, plus the leeway.
func (v *Validator) checkProofNonce(nonce string) (end time.Time, err error) {
	if !v.noncesOn() {
		return time.Time{}, nil
	}
	if nonce == "" {
		return time.Time{}, useNonce(errNonceMissing)
	}
	step, ok, _ := v.checkNonce(nonce)
	if !ok {
		return time.Time{}, useNonce(errNonceInvalid)
	}
	return time.Unix((int64(step)+2)*int64(DPoPNonceStep/time.Second), 0).Add(v.cfg.leeway()), nil
}

// proofUntil returns until when the identifier of a proof must be
// remembered: byIAT, the end of its iat window, or nonceEnd, the end of
// its nonce's acceptance (checkProofNonce; zero without nonces), when that
// comes first, since the proof is refused after it anyway. This is what
// shortens the replay window with nonces on (replayWindow).
func proofUntil(byIAT, nonceEnd time.Time) time.Time {
	if !nonceEnd.IsZero() && nonceEnd.Before(byIAT) {
		return nonceEnd
	}
	return byIAT
}

// useNonce returns the 401 use_dpop_nonce answer (RFC 9449 §9).
func useNonce(cause error) *Error {
	e := newError(ErrInvalidDPoPProof, ErrUseDPoPNonce, cause)
	e.Code = CodeUseDPoPNonce
	return e
}

// SetSuccessHeaders sets the headers of the answer to a request that
// [Validator.Check] accepted: with DPoP.NonceSecrets, a fresh DPoP-Nonce
// when the request's proof carries a nonce of the previous step (RFC 9449
// §9: the client uses it in its next proof, before its nonce expires); it
// sets nothing otherwise. Call it after Check accepted r and before the
// route writes its answer. The handlers of [Validator.Authenticate],
// [Validator.Require] and the others do, and so do the adapters;
// integrations built on Check should too.
func (v *Validator) SetSuccessHeaders(h http.Header, r *http.Request) {
	if !v.noncesOn() {
		return
	}
	proofs := r.Header.Values("DPoP")
	if len(proofs) != 1 {
		return
	}
	var p dpopProof
	if parseProof(proofs[0], &p) != nil {
		return
	}
	if _, ok, due := v.checkNonce(p.nonce); ok && due {
		h.Set("DPoP-Nonce", v.newNonce())
	}
}

// cloneSecrets copies DPoP.NonceSecrets, so that the caller reusing its
// slices changes nothing.
func cloneSecrets(secrets [][]byte) [][]byte {
	if len(secrets) == 0 {
		return nil
	}
	c := make([][]byte, len(secrets))
	for i, s := range secrets {
		c[i] = append([]byte(nil), s...)
	}
	return c
}

// processNonceSecret returns a secret for DPoP.Nonces, drawn from
// crypto/rand (which does not fail, RFC 9449 §9 nonces of one process).
func processNonceSecret() []byte {
	b := make([]byte, MinDPoPNonceSecretSize)
	_, _ = rand.Read(b)
	return b
}

// uniformSecret reports whether every byte of s is the same: a buffer
// never filled, not a random secret.
func uniformSecret(s []byte) bool {
	for _, b := range s {
		if b != s[0] {
			return false
		}
	}
	return true
}
