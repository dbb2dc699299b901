package middlewaretest

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Profile selects which provider's token shape [Issuer.Token] produces:
// the header "typ", which claims are present and where scopes go. Every
// profile uses [Issuer.URL] as "iss", even where the real provider's
// issuer has a path or a trailing slash (Auth0's ends in "/", Entra's is
// ".../{tenant}/v2.0"); override it through [Spec.Claims] if needed.
type Profile int

const (
	// Generic is the JWT profile for OAuth 2.0 access tokens (RFC 9068):
	// header typ "at+jwt"; claims iss, sub, aud, exp, iat, jti, client_id
	// and scope (a space-separated string). A machine token's sub is the
	// client ID.
	Generic Profile = iota

	// Auth0 is Auth0's default ("Auth0") access token profile: header typ
	// "JWT"; azp is the client ID; scope is a string and permissions an
	// array holding the same scopes (as with RBAC's "Add Permissions in
	// the Access Token"). User tokens have an aud array of the API
	// audiences followed by URL+"/userinfo" (real Auth0 adds the userinfo
	// audience only when the openid scope was requested). Machine tokens
	// have sub clientID+"@clients", gty "client-credentials" and a single
	// aud string. There is no jti. An org_id claim appears only if given
	// in [Spec.Claims].
	Auth0

	// Logto is Logto's access token: header typ "at+jwt"; jti, client_id,
	// scope string and a single aud, the API resource indicator. A
	// machine token's sub is the client ID. Logto signs with ES384 by
	// default; set [Spec.Alg] to match. For organization tokens pass
	// Audience "urn:logto:organization:<id>" and Claims
	// {"organization_id": "<id>"}.
	Logto

	// Keycloak is a Keycloak access token: header typ "JWT"; payload typ
	// "Bearer"; azp is the client ID; scope string; realm_access.roles
	// holds the scopes; resource_access holds the default "account" client
	// roles; aud is the given audiences followed by "account";
	// preferred_username is the subject for user tokens. Machine tokens
	// (service accounts) have sub set to a UUID derived from the client
	// ID, client_id, and preferred_username "service-account-<client id>".
	Keycloak

	// Entra is a Microsoft Entra ID (Azure AD) v2.0 access token: header
	// typ "JWT"; ver "2.0"; azp, azpacr, tid, oid, uti, nbf; no jti. User
	// tokens put the scopes in scp (a space-separated string); machine
	// tokens put them in roles (an array), have idtyp "app" and sub equal
	// to oid. tid is a fixed fictitious tenant ID; oid is a UUID derived
	// from the subject (user) or client ID (machine).
	Entra

	// Okta is an Okta custom authorization server access token: no header
	// typ; ver 1; jti "AT." followed by random text; cid is the client ID;
	// scp is an array; user tokens carry uid and auth_time; a machine
	// token's sub is the client ID.
	Okta

	// Cognito is an Amazon Cognito user pool access token: no header typ;
	// token_use "access"; client_id; scope string; version 2; no aud
	// claim at all ([Spec.Audience] is ignored for access tokens). User
	// tokens carry username, auth_time, origin_jti and event_id; a
	// machine token's sub is the client ID.
	Cognito

	// EntraV1 is a Microsoft Entra ID v1.0 access token: as Entra, with
	// ver "1.0", appid for the client (no azp), and "iss" the kit's form of
	// the v1.0 issuer "https://sts.windows.net/{tenantid}/"
	// ([Issuer.EntraIssuer]) for the token's tenant.
	EntraV1
)

// String returns the profile's name, such as "Generic" or "Auth0".
func (p Profile) String() string {
	switch p {
	case Generic:
		return "Generic"
	case Auth0:
		return "Auth0"
	case Logto:
		return "Logto"
	case Keycloak:
		return "Keycloak"
	case Entra:
		return "Entra"
	case EntraV1:
		return "EntraV1"
	case Okta:
		return "Okta"
	case Cognito:
		return "Cognito"
	}
	return fmt.Sprintf("Profile(%d)", int(p))
}

// Kind selects an access token or an OpenID Connect ID token.
type Kind int

const (
	// AccessToken is an OAuth 2.0 access token, the kind a resource server
	// must accept.
	AccessToken Kind = iota

	// IDToken is an OpenID Connect ID token (OpenID Connect Core 1.0
	// §2), which a resource server must reject as an access token. ID
	// tokens carry iss, sub, aud (default the client ID), exp, iat,
	// auth_time, nonce and at_hash (the hash of an opaque placeholder
	// access token). The header typ is "JWT", except for Okta and Cognito,
	// which send none. Keycloak adds payload typ "ID" and azp; Auth0 adds
	// azp; Cognito adds token_use "id" and cognito:username; Entra adds
	// ver, tid, oid and nbf; Okta adds ver and a jti starting "ID.".
	// [Spec.Scopes] and [Spec.Machine] do not apply.
	IDToken
)

// Spec describes a token for [Issuer.Token]. The zero Spec is a valid,
// one-hour Generic access token for user "user-123" from client
// "test-client" for audience "https://api.example.test", signed with RS256.
type Spec struct {
	// Profile is the provider whose token shape to reproduce.
	// Optional; default Generic.
	Profile Profile

	// Kind selects an access token or an ID token.
	// Optional; default AccessToken.
	Kind Kind

	// Alg is the JWS algorithm: "RS256", "RS384", "RS512", "PS256",
	// "PS384", "PS512", "ES256", "ES384", "ES512" or "EdDSA". The token is
	// signed with the Issuer's current key for it. Optional; default
	// "RS256".
	Alg string

	// Subject is the sub claim. Optional; default "user-123" for user
	// tokens and, for machine tokens, what the profile uses for a client
	// (see the Profile constants).
	Subject string

	// ClientID is the OAuth client the token was issued to.
	// Optional; default "test-client".
	ClientID string

	// Machine makes a client credentials token (RFC 6749 §4.4), one with
	// no user behind it.
	Machine bool

	// Audience is the intended audience. Optional; default
	// ["https://api.example.test"] for access tokens and [Spec.ClientID] for ID
	// tokens. A single audience is encoded as a string, several as an
	// array, unless the profile says otherwise.
	Audience []string

	// Scopes are the granted scopes, placed where the profile puts them.
	// Optional; default none (the scope claim is then omitted).
	Scopes []string

	// IssuedAt is the iat claim. Optional; default the current time.
	IssuedAt time.Time

	// Lifetime sets exp to IssuedAt + Lifetime; a negative Lifetime makes
	// an expired token. Optional; default one hour.
	Lifetime time.Duration

	// Claims are merged into the payload last, replacing claims of the
	// same name; a nil value deletes the claim. Optional.
	Claims map[string]any

	// JKT, if set, binds the access token to a DPoP key (RFC 9449 §6.1):
	// "cnf": {"jkt": JKT}. Use [DPoPKey.Thumbprint]. Optional.
	JKT string

	// CertThumbprint, if set, binds the access token to a client
	// certificate (RFC 8705 §3.1): "cnf": {"x5t#S256": CertThumbprint}.
	// Use [CertThumbprint]. With JKT, both go in one "cnf". Optional.
	CertThumbprint string

	// Tenant, for the Entra profiles, is the "tid" claim and the tenant of
	// the token's issuer, [Issuer.EntraIssuer]. Optional; by default an
	// Entra token has a fixed tenant ([EntraTenantID]) and "iss" URL, as
	// before.
	Tenant string

	// Header is merged into the JOSE header last, replacing parameters of
	// the same name; a nil value deletes the parameter ("typ": nil removes
	// typ, "kid": nil removes kid). Overriding "alg" changes only what
	// the header claims: the token is still signed with Alg's key.
	// Optional.
	Header map[string]any
}

// Default values used by [Issuer.Token] and the token endpoint.
const (
	defaultAudience = "https://api.example.test"
	defaultClientID = "test-client"
	defaultSubject  = "user-123"
	defaultAlg      = "RS256"
	defaultLifetime = time.Hour
	// fixedNonce is the nonce of every ID token (the example value of
	// OpenID Connect Core 1.0 §3.1.2.1).
	fixedNonce = "n-0S6_WzA2Mj"
)

// Token mints a token described by s and signs it with the Issuer's
// current key for s.Alg. It panics if s.Alg or s.Profile is unknown or
// signing fails.
func (i *Issuer) Token(s Spec) string {
	alg := s.Alg
	if alg == "" {
		alg = defaultAlg
	}
	key := i.currentKey(alg)
	header, claims := i.shape(s, alg)
	header["alg"] = alg
	header["kid"] = key.kid
	merge(header, s.Header)
	merge(claims, s.Claims)
	return mustSign(jwt.GetSigningMethod(alg), key.signer, header, claims)
}

// Sign signs claims with the Issuer's current key for header["alg"]
// (default "RS256") and returns the compact JWS. The header is sent as
// given plus alg and, unless header has a "kid" entry, the key's kid; a
// "kid" entry with a nil value sends no kid. Nothing else is added: no
// typ, no iss, no exp. Alg "none" makes an unsigned token (RFC 7519 §6).
// Sign panics if the algorithm is not one the Issuer has keys for.
func (i *Issuer) Sign(header, claims map[string]any) string {
	h := maps.Clone(header)
	if h == nil {
		h = map[string]any{}
	}
	alg := algOf(h)
	h["alg"] = alg
	if alg == "none" {
		if v, ok := h["kid"]; ok && v == nil {
			delete(h, "kid")
		}
		return mustSign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, h, claims)
	}
	key := i.currentKey(alg)
	if v, ok := h["kid"]; !ok {
		h["kid"] = key.kid
	} else if v == nil {
		delete(h, "kid")
	}
	return mustSign(jwt.GetSigningMethod(alg), key.signer, h, claims)
}

// SignWith signs claims with key using the golang-jwt signing method named
// by header["alg"] (default "RS256") and returns the compact JWS, for tests
// with keys the Issuer does not publish: an attacker's RSA key, an HMAC
// secret made of the Issuer's public key, or jwt.UnsafeAllowNoneSignatureType
// for alg "none". The header is sent as given plus alg; no kid is added.
// SignWith panics if the algorithm is unknown to golang-jwt or key does not
// suit it.
func (i *Issuer) SignWith(key any, header, claims map[string]any) string {
	h := maps.Clone(header)
	if h == nil {
		h = map[string]any{}
	}
	alg := algOf(h)
	h["alg"] = alg
	method := jwt.GetSigningMethod(alg)
	if method == nil {
		panic(fmt.Sprintf("middlewaretest: golang-jwt has no signing method %q", alg))
	}
	return mustSign(method, key, h, claims)
}

func algOf(header map[string]any) string {
	v, ok := header["alg"]
	if !ok || v == nil {
		return defaultAlg
	}
	alg, ok := v.(string)
	if !ok {
		panic(fmt.Sprintf("middlewaretest: header alg is %T, want string", v))
	}
	return alg
}

func mustSign(method jwt.SigningMethod, key any, header, claims map[string]any) string {
	if claims == nil {
		claims = map[string]any{}
	}
	t := &jwt.Token{Header: header, Claims: jwt.MapClaims(claims), Method: method}
	s, err := t.SignedString(key)
	if err != nil {
		panic(fmt.Sprintf("middlewaretest: sign %s token: %v", method.Alg(), err))
	}
	return s
}

// merge copies src into dst; a nil value deletes the entry instead.
func merge(dst, src map[string]any) {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
		} else {
			dst[k] = v
		}
	}
}

// shape builds the profile's header (without alg and kid) and claims.
func (i *Issuer) shape(s Spec, alg string) (header, claims map[string]any) {
	clientID := s.ClientID
	if clientID == "" {
		clientID = defaultClientID
	}
	iat := s.IssuedAt
	if iat.IsZero() {
		iat = time.Now()
	}
	lifetime := s.Lifetime
	if lifetime == 0 {
		lifetime = defaultLifetime
	}
	t := tokenFacts{
		iss:      i.URL,
		clientID: clientID,
		subject:  s.Subject,
		machine:  s.Machine,
		aud:      s.Audience,
		scopes:   s.Scopes,
		iat:      iat.Unix(),
		exp:      iat.Add(lifetime).Unix(),
		alg:      alg,
	}
	if s.Kind == IDToken {
		return t.idToken(s.Profile)
	}
	if t.aud == nil {
		t.aud = []string{defaultAudience}
	}
	header, claims = t.accessToken(s.Profile)
	i.tenantShape(s, claims)
	if cnf := confirmation(s); cnf != nil {
		claims["cnf"] = cnf
	}
	return header, claims
}

// tokenFacts are a Spec with defaults applied and times as NumericDates.
type tokenFacts struct {
	iss, clientID, subject string
	machine                bool
	aud, scopes            []string
	iat, exp               int64
	alg                    string
}

// sub returns the subject, or machineDefault for a machine token and
// defaultSubject for a user token when none was given.
func (t tokenFacts) sub(machineDefault string) string {
	switch {
	case t.subject != "":
		return t.subject
	case t.machine:
		return machineDefault
	default:
		return defaultSubject
	}
}

// setScope sets a space-separated scope claim under name when there are
// scopes (RFC 9068 §2.2.3, RFC 8693 §4.2).
func (t tokenFacts) setScope(claims map[string]any, name string) {
	if len(t.scopes) > 0 {
		claims[name] = strings.Join(t.scopes, " ")
	}
}

// scopeList returns the scopes as a non-nil array.
func (t tokenFacts) scopeList() []string {
	return append([]string{}, t.scopes...)
}

func (t tokenFacts) accessToken(p Profile) (header, claims map[string]any) {
	header = map[string]any{}
	claims = map[string]any{"iss": t.iss, "iat": t.iat, "exp": t.exp}
	switch p {
	case Generic:
		header["typ"] = "at+jwt"
		claims["sub"] = t.sub(t.clientID)
		claims["aud"] = audClaim(t.aud)
		claims["jti"] = randomID()
		claims["client_id"] = t.clientID
		t.setScope(claims, "scope")
	case Auth0:
		header["typ"] = "JWT"
		claims["azp"] = t.clientID
		t.setScope(claims, "scope")
		claims["permissions"] = t.scopeList()
		if t.machine {
			claims["sub"] = t.sub(t.clientID + "@clients")
			claims["aud"] = audClaim(t.aud)
			claims["gty"] = "client-credentials"
		} else {
			claims["sub"] = t.sub("")
			claims["aud"] = append(append([]string{}, t.aud...), t.iss+"/userinfo")
		}
	case Logto:
		header["typ"] = "at+jwt"
		claims["jti"] = randomID()
		claims["sub"] = t.sub(t.clientID)
		claims["aud"] = audClaim(t.aud)
		claims["client_id"] = t.clientID
		t.setScope(claims, "scope")
	case Keycloak:
		header["typ"] = "JWT"
		claims["jti"] = randomUUID()
		claims["typ"] = "Bearer"
		claims["azp"] = t.clientID
		claims["acr"] = "1"
		claims["aud"] = audClaim(append(append([]string{}, t.aud...), "account"))
		t.setScope(claims, "scope")
		claims["realm_access"] = map[string]any{"roles": t.scopeList()}
		claims["resource_access"] = map[string]any{
			"account": map[string]any{"roles": []string{"manage-account", "view-profile"}},
		}
		if t.machine {
			claims["sub"] = t.sub(uuidFrom("keycloak-service-account", t.clientID))
			claims["client_id"] = t.clientID
			claims["preferred_username"] = "service-account-" + strings.ToLower(t.clientID)
			claims["clientHost"] = "127.0.0.1"
			claims["clientAddress"] = "127.0.0.1"
		} else {
			claims["sub"] = t.sub("")
			claims["preferred_username"] = claims["sub"]
			claims["sid"] = randomUUID()
		}
	case Entra, EntraV1:
		header["typ"] = "JWT"
		claims["ver"] = "2.0"
		claims["aud"] = audClaim(t.aud)
		claims["nbf"] = t.iat
		claims["azp"] = t.clientID
		claims["azpacr"] = "1"
		claims["tid"] = entraTenantID()
		claims["uti"] = randomID()
		if t.machine {
			oid := t.sub(uuidFrom("entra-service-principal", t.clientID))
			claims["sub"] = oid
			claims["oid"] = oid
			claims["idtyp"] = "app"
			if len(t.scopes) > 0 {
				claims["roles"] = t.scopeList()
			}
		} else {
			sub := t.sub("")
			claims["sub"] = sub
			claims["oid"] = uuidFrom("entra-user", sub)
			claims["preferred_username"] = sub + "@example.test"
			t.setScope(claims, "scp")
		}
	case Okta:
		claims["ver"] = 1
		claims["jti"] = "AT." + randomID()
		claims["aud"] = audClaim(t.aud)
		claims["cid"] = t.clientID
		claims["scp"] = t.scopeList()
		if t.machine {
			claims["sub"] = t.sub(t.clientID)
		} else {
			sub := t.sub("")
			claims["sub"] = sub
			claims["uid"] = oktaUserID(sub)
			claims["auth_time"] = t.iat
		}
	case Cognito:
		claims["token_use"] = "access"
		claims["version"] = 2
		claims["jti"] = randomUUID()
		claims["client_id"] = t.clientID
		t.setScope(claims, "scope")
		claims["auth_time"] = t.iat
		if t.machine {
			claims["sub"] = t.sub(t.clientID)
		} else {
			sub := t.sub("")
			claims["sub"] = sub
			claims["username"] = sub
			claims["origin_jti"] = randomUUID()
			claims["event_id"] = randomUUID()
		}
	default:
		panic(fmt.Sprintf("middlewaretest: unknown %v", p))
	}
	return header, claims
}

func (t tokenFacts) idToken(p Profile) (header, claims map[string]any) {
	aud := t.aud
	if aud == nil {
		aud = []string{t.clientID}
	}
	sub := t.subject
	if sub == "" {
		sub = defaultSubject
	}
	header = map[string]any{"typ": "JWT"}
	claims = map[string]any{
		"iss":       t.iss,
		"sub":       sub,
		"aud":       audClaim(aud),
		"iat":       t.iat,
		"exp":       t.exp,
		"auth_time": t.iat,
		"nonce":     fixedNonce,
		"at_hash":   atHash(t.alg, "placeholder-access-token-"+randomID()),
	}
	switch p {
	case Generic, Logto:
	case Auth0:
		claims["azp"] = t.clientID
	case Keycloak:
		claims["typ"] = "ID"
		claims["azp"] = t.clientID
		claims["jti"] = randomUUID()
		claims["preferred_username"] = sub
	case Entra, EntraV1:
		claims["ver"] = "2.0"
		claims["nbf"] = t.iat
		claims["tid"] = entraTenantID()
		claims["oid"] = uuidFrom("entra-user", sub)
	case Okta:
		delete(header, "typ")
		claims["ver"] = 1
		claims["jti"] = "ID." + randomID()
	case Cognito:
		delete(header, "typ")
		claims["token_use"] = "id"
		claims["cognito:username"] = sub
	default:
		panic(fmt.Sprintf("middlewaretest: unknown %v", p))
	}
	return header, claims
}

// audClaim encodes one audience as a string and several as an array, as
// RFC 7519 §4.1.3 allows and most providers do.
func audClaim(aud []string) any {
	if len(aud) == 1 {
		return aud[0]
	}
	return append([]string{}, aud...)
}

// randomID returns 26 random base32 characters (130 bits).
func randomID() string { return rand.Text() }

// uuidFrom derives a stable UUID-formatted string (version 5 layout) from
// a namespace label and a name, so derived identifiers such as Entra's oid
// are the same for the same subject in every test run.
func uuidFrom(namespace, name string) string {
	sum := sha1.Sum([]byte(namespace + "\x00" + name))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

// randomUUID returns a random version 4 UUID (RFC 9562 §5.4).
func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand docs)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b[:])
}

func formatUUID(b []byte) string {
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// oktaUserID derives an Okta-style user ID: "00u" and 17 characters.
func oktaUserID(sub string) string {
	sum := sha1.Sum([]byte("okta-user\x00" + sub))
	return "00u" + hex.EncodeToString(sum[:])[:17]
}

// entraTenantID is the fictitious directory (tenant) ID of Entra tokens.
func entraTenantID() string { return uuidFrom("entra-tenant", "bearerguard") }

// atHash computes an OpenID Connect at_hash (Core 1.0 §3.1.3.6): the
// base64url left half of the access token's hash under alg's hash
// function (SHA-512 for EdDSA with Ed25519).
func atHash(alg, accessToken string) string {
	var sum []byte
	switch alg {
	case "RS384", "PS384", "ES384":
		s := sha512.Sum384([]byte(accessToken))
		sum = s[:]
	case "RS512", "PS512", "ES512", "EdDSA":
		s := sha512.Sum512([]byte(accessToken))
		sum = s[:]
	default:
		s := sha256.Sum256([]byte(accessToken))
		sum = s[:]
	}
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}
