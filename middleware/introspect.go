package middleware

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bearerguard/bearerguard/internal/jsonscan"
)

// This file is the RFC 7662 introspection client: it finds the endpoint
// (configured, or discovered), POSTs the token with the configured client
// authentication through the safe client, and decodes the answer into a
// payload, strictly, as a JWT's claims are decoded. It knows nothing of
// the checks made of the answer (opaque.go).

// introspector calls one issuer's introspection endpoint.
type introspector struct {
	cfg    *Config
	in     *Introspection
	issuer string
	ident  string // the endpoint, or the issuer it is discovered from
	client *http.Client

	mu       sync.Mutex // held while discovering
	endpoint string     // configured or discovered
	failedAt time.Time  // when discovery last failed
	failErr  error      // why

	warnedAt atomic.Int64 // unix nanoseconds of the last credentials warning
}

func newIntrospector(cfg *Config, in *Introspection, issuer string, client *http.Client) *introspector {
	ix := &introspector{cfg: cfg, in: in, issuer: issuer, client: client, endpoint: in.Endpoint}
	ix.ident = in.Endpoint
	if ix.ident == "" {
		ix.ident = "discovered from " + ix.issuer
	}
	return ix
}

// credentialsWarnInterval is the least time between two warnings that the
// endpoint refuses this API's client credentials.
const credentialsWarnInterval = time.Minute

var (
	errActive          = errors.New(`introspection answer has no boolean "active"`)
	errIntrospectAuth  = errors.New("the introspection endpoint refused the client credentials")
	errIntrospectCode  = errors.New("unexpected HTTP status from the introspection endpoint")
	errIntrospectLarge = errors.New("introspection answer too large")
	errAnswerNameCase  = errors.New(`introspection answer member name differs only in case from "active" or "token_type"`)
)

// introspect asks the endpoint about token and decodes an active answer
// into p. It returns the answer's "token_type". Errors are *Error: 401
// ErrTokenInactive for an inactive token, 401 ErrMalformedToken for an
// active answer whose members are not of their types, and 503
// ErrIntrospectionFailed for anything that is not an answer.
func (ix *introspector) introspect(ctx context.Context, token string, p *payload) (optionalString, error) {
	ctx, cancel := context.WithTimeout(ctx, ix.in.timeout())
	defer cancel()
	retry := ix.cfg.minRefreshInterval()
	endpoint, err := ix.endpointURL(ctx)
	if err != nil {
		return optionalString{}, unavailableFor(ErrIntrospectionFailed, retry, err)
	}
	body, err := ix.post(ctx, endpoint, token)
	if err != nil {
		return optionalString{}, unavailableFor(ErrIntrospectionFailed, retry, err)
	}
	active, tokenType, err := decodeAnswer(body)
	switch {
	case err == errAnswerNameCase:
		return optionalString{}, invalidToken(ErrMalformedToken, err)
	case err != nil:
		return optionalString{}, unavailableFor(ErrIntrospectionFailed, retry, err)
	}
	if !active {
		return optionalString{}, invalidToken(ErrTokenInactive, nil)
	}
	var tt optionalString
	if tokenType != nil {
		if err := readOptionalString(&tt, tokenType); err != nil {
			return optionalString{}, invalidToken(ErrMalformedToken, err)
		}
	}
	if err := p.decode(body); err != nil {
		return optionalString{}, invalidToken(ErrMalformedToken, err)
	}
	return tt, nil
}

// endpointURL returns the configured endpoint, or the one the issuer's
// discovery document names, fetched once; a failed discovery is tried
// again at most once per Config.MinRefreshInterval.
func (ix *introspector) endpointURL(ctx context.Context) (string, error) {
	if ix.in.Endpoint != "" {
		return ix.in.Endpoint, nil
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.endpoint != "" {
		return ix.endpoint, nil
	}
	now := time.Now()
	if !ix.failedAt.IsZero() && now.Sub(ix.failedAt) < ix.cfg.minRefreshInterval() {
		return "", ix.failErr
	}
	u, err := discoverURL(ctx, ix.client, ix.issuer, ix.cfg.InsecureAllowHTTPIssuer,
		"introspection_endpoint", errNoIntrospection, func(m *metadata) string { return m.IntrospectionEndpoint })
	if err != nil {
		if ke, ok := err.(*KeysError); ok {
			ke.Issuer = ix.issuer
		}
		ix.failedAt, ix.failErr = now, err
		return "", err
	}
	ix.endpoint = u
	return u, nil
}

// post sends the introspection request (RFC 7662 §2.1) and returns the
// body of a 200 answer, at most MaxIntrospectionSize bytes.
func (ix *introspector) post(ctx context.Context, endpoint, token string) ([]byte, error) {
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	in := ix.in
	switch in.authMethod() {
	case AuthClientSecretPost:
		form.Set("client_id", in.ClientID)
		form.Set("client_secret", in.ClientSecret)
	case AuthPrivateKeyJWT:
		assertion, err := clientAssertion(in, endpoint, time.Now())
		if err != nil {
			return nil, err
		}
		form.Set("client_id", in.ClientID)
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", assertion)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if in.authMethod() == AuthClientSecretBasic {
		// RFC 6749 §2.3.1: the id and the secret are form-urlencoded
		// before Basic encoding.
		req.SetBasicAuth(url.QueryEscape(in.ClientID), url.QueryEscape(in.ClientSecret))
	}
	resp, err := ix.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		ix.warnCredentials(ctx, endpoint, resp.StatusCode)
		return nil, fmt.Errorf("%w: status %d", errIntrospectAuth, resp.StatusCode)
	default:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("%w: %d", errIntrospectCode, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxIntrospectionSize+1))
	if err != nil {
		return nil, err
	}
	if len(body) > MaxIntrospectionSize {
		return nil, errIntrospectLarge
	}
	return body, nil
}

// warnCredentials logs, at most once per credentialsWarnInterval, that the
// endpoint refuses this API's client credentials: every opaque token is
// answered 503 until they are fixed.
func (ix *introspector) warnCredentials(ctx context.Context, endpoint string, status int) {
	l := ix.cfg.Logger
	if l == nil {
		return
	}
	now := time.Now().UnixNano()
	last := ix.warnedAt.Load()
	if last != 0 && now-last < int64(credentialsWarnInterval) {
		return
	}
	if !ix.warnedAt.CompareAndSwap(last, now) {
		return // another request warns
	}
	l.Log(ctx, slog.LevelWarn, "bearerguard: the introspection endpoint refuses this API's client credentials: every opaque token is answered 503 until Config.Introspection is fixed",
		"issuer", ix.issuer, "url", endpoint, "status", status,
		"client_id", ix.in.ClientID, "auth_method", ix.in.authMethod())
}

// answerMembers are the members of an introspection answer read here
// rather than by the payload (payload.go reads the claims).
var answerMembers = [...]string{"active", "token_type"}

// decodeAnswer reads an introspection answer (RFC 7662 §2.2): a JSON
// object with unique member names and a boolean "active". It returns
// "active" and the raw "token_type", nil if absent. Anything else is not
// an answer: an error. An answer that also has a member whose name equals
// "active" or "token_type" under Unicode case folding without being it
// ("ACTIVE", "Token_Type"), which encoding/json would read as that member
// in an application's Claims.Decode, is refused with errAnswerNameCase, as
// payload.decode refuses such spellings of the claims it reads.
func decodeAnswer(b []byte) (active bool, tokenType []byte, err error) {
	set, nameCase := false, false
	err = jsonscan.Object(b, func(name string, v []byte) error {
		for _, m := range answerMembers {
			if name != m && strings.EqualFold(name, m) {
				nameCase = true
			}
		}
		switch name {
		case "active":
			switch v[0] {
			case 't':
				active, set = true, true
			case 'f':
				set = true
			default:
				return errActive
			}
		case "token_type":
			tokenType = v
		}
		return nil
	})
	if err != nil {
		return false, nil, fmt.Errorf("introspection answer: %w", err)
	}
	if !set {
		return false, nil, errActive
	}
	if nameCase {
		return false, nil, errAnswerNameCase
	}
	return active, tokenType, nil
}

// assertionAlg returns the JWS algorithm a private_key_jwt client
// assertion is signed with by key: RS256 for RSA keys of at least 2048
// bits, ES256, ES384 or ES512 by the curve of an ECDSA key, EdDSA for
// Ed25519.
func assertionAlg(key crypto.Signer) (string, error) {
	switch pub := key.Public().(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < 2048 {
			return "", errors.New("RSA key shorter than 2048 bits")
		}
		return "RS256", nil
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			return "ES256", nil
		case elliptic.P384():
			return "ES384", nil
		case elliptic.P521():
			return "ES512", nil
		}
		return "", errors.New("ECDSA key on an unsupported curve")
	case ed25519.PublicKey:
		return "EdDSA", nil
	}
	return "", errors.New("unsupported key type (RSA, ECDSA or Ed25519)")
}

// clientAssertion returns a private_key_jwt client assertion (RFC 7523 §3,
// OpenID Connect Core §9) for endpoint: iss and sub the client id, aud the
// endpoint, a fresh jti, iat now and exp a minute later.
func clientAssertion(in *Introspection, endpoint string, now time.Time) (string, error) {
	alg, err := assertionAlg(in.PrivateKey)
	if err != nil {
		return "", err
	}
	header := map[string]string{"alg": alg, "typ": "JWT"}
	if in.KeyID != "" {
		header["kid"] = in.KeyID
	}
	claims := map[string]any{
		"iss": in.ClientID, "sub": in.ClientID, "aud": endpoint,
		"jti": rand.Text(), "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	cb, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	input := enc.EncodeToString(hb) + "." + enc.EncodeToString(cb)
	sig, err := signAssertion(in.PrivateKey, alg, []byte(input))
	if err != nil {
		return "", err
	}
	return input + "." + enc.EncodeToString(sig), nil
}

// signAssertion signs input with key for alg (RFC 7518 §3.3, §3.4, RFC
// 8037 §3.1) through crypto.Signer alone, so that a key held in an HSM or
// a KMS serves: ECDSA's ASN.1 signature becomes the raw R‖S of JWS.
func signAssertion(key crypto.Signer, alg string, input []byte) ([]byte, error) {
	var h crypto.Hash
	var digest []byte
	switch alg {
	case "EdDSA":
		return key.Sign(rand.Reader, input, crypto.Hash(0))
	case "RS256", "ES256":
		s := sha256.Sum256(input)
		h, digest = crypto.SHA256, s[:]
	case "ES384":
		s := sha512.Sum384(input)
		h, digest = crypto.SHA384, s[:]
	case "ES512":
		s := sha512.Sum512(input)
		h, digest = crypto.SHA512, s[:]
	default:
		return nil, errors.New("unsupported algorithm " + strconv.Quote(alg))
	}
	sig, err := key.Sign(rand.Reader, digest, h)
	if err != nil || alg == "RS256" {
		return sig, err
	}
	var rs struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(sig, &rs); err != nil {
		return nil, fmt.Errorf("ECDSA signature: %w", err)
	}
	size := (key.Public().(*ecdsa.PublicKey).Curve.Params().BitSize + 7) / 8
	out := make([]byte, 2*size)
	rs.R.FillBytes(out[:size])
	rs.S.FillBytes(out[size:])
	return out, nil
}
