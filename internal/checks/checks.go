// Package checks names the checks bearerguard makes of a request, in the
// order package middleware makes them. The refusal log names the check
// that refused a request (its "check" attribute), and
// cmd/bearerguard explain lists them all. It is not API.
package checks

// The checks, by the name the refusal log gives them.
const (
	Request   = "request"   // a token is read from the request (RFC 6750 §2)
	Parse     = "parse"     // a compact JWS whose header and claims decode
	Header    = "header"    // allowed alg, no crit, not a JWE, kid a string
	Type      = "type"      // an access token, not an ID token (RFC 9068, RFC 8725 §3.11)
	Issuer    = "issuer"    // iss is a trusted issuer
	Key       = "key"       // the issuer's keys are held and one has the kid and fits the alg
	Signature = "signature" // the signature verifies
	Times     = "times"     // exp, nbf, iat against now and the leeway
	Binding   = "binding"   // used as its binding (cnf) requires: Bearer, DPoP or mTLS
	Audience  = "audience"  // aud (and the client, with ClientIDs) accepted
	Claims    = "claims"    // the scope claims are strings or arrays of strings
	Validate  = "validate"  // Config.Validate accepts the claims
	User      = "user_authentication"
	Scope     = "scope"
	Policy    = "policy" // the route's other requirements
)

// Order lists every check, in the order they are made.
var Order = []string{
	Request, Parse, Header, Type, Issuer, Key, Signature, Times, Binding,
	Audience, Claims, Validate, User, Scope, Policy,
}

// Does says in a few words what each check requires.
var Does = map[string]string{
	Request:   "a bearer token in the request (RFC 6750 §2)",
	Parse:     "a compact JWS whose header and claims decode",
	Header:    "an allowed alg, no crit, not a JWE, a string kid",
	Type:      "an access token, not an ID token (RFC 9068 §4)",
	Issuer:    "iss is a trusted issuer",
	Key:       "the issuer's keys are held; one has the kid and fits the alg",
	Signature: "the signature verifies",
	Times:     "exp, nbf and iat hold at now, with the leeway",
	Binding:   "used as its binding (cnf) requires: Bearer, DPoP or mTLS",
	Audience:  "an aud value is an accepted audience (and the client, with ClientIDs)",
	Claims:    "the scope claims are strings or arrays of strings",
	Validate:  "Config.Validate accepts the claims",
	User:      "the user authentication the route requires (RFC 9470)",
	Scope:     "the scopes the route requires",
	Policy:    "the route's other requirements",
}
