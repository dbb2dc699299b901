"""Loopback Authlib authorization server for bearerguard's interop tests.

Not for production use. Run with Debian's interpreter, which has the
python3-authlib and python3-flask packages:

    /usr/bin/python3 server.py --port PORT --state DIR

PORT 0 picks a free port. The server listens on 127.0.0.1 only, prints
"listening on http://127.0.0.1:PORT" once it accepts connections, and keeps
its RSA signing key in DIR/jwks.json so that a restart on the same port
serves the same key.

It issues RS256 JWT access tokens for the client_credentials grant with
Authlib's own JWTBearerTokenGenerator (Authlib 1.2 has no RFC 9068
generator, so the header says typ "JWT" and the payload carries Authlib's
"grant_type" claim). This server adds what a resource server needs on top:
aud from the RFC 8707 "resource" parameter or the Auth0-style "audience"
parameter, sub (the client id) and jti. A request with neither parameter gets
a token without aud, as stock Authlib issues it. Unknown audiences are refused
with invalid_target.

Opaque tokens: the client bearerguard-opaque gets Authlib's default bearer
tokens instead, random 42-character strings from the generator Flask's
AuthorizationServer builds (create_bearer_token_generator), as an Authlib
deployment without a JWT generator issues them. The resource server learns
what they mean from two endpoints built on Authlib's own classes:

  /oauth/introspect  RFC 7662 IntrospectionEndpoint. Only the resource-server
                     client bearerguard-api may call it, with
                     client_secret_basic or client_secret_post; other clients
                     are refused (invalid_client). The answer for a live token
                     follows the example in Authlib's documentation of
                     introspect_token: active, client_id, token_type, scope,
                     sub (the client id: there is no user), aud, iss, exp,
                     iat. aud is the resource or audience the token was asked
                     for, else the client id as in that example.
  /oauth/revoke      RFC 7009 RevocationEndpoint. Only the client a token was
                     issued to may revoke it (client_secret_basic).

Token store: the server's own SQLite database (Python's sqlite3), DIR/tokens.db,
or in memory without --state; a restart on the same state directory keeps the
tokens, as a real database would. The table holds the SHA-256 of each opaque
access token, never the token itself, with client_id, scope, aud, issued_at,
expires_at and revoked (a flag: revocation marks a token, never deletes it,
as Authlib's RevocationEndpoint.revoke_token advises). JWT access tokens are
not stored.

Metadata (RFC 8414) is served at /.well-known/oauth-authorization-server and,
with the same content, at /.well-known/openid-configuration, where many
deployments publish it; the keys are at /.well-known/jwks.json.
"""

import argparse
import hashlib
import json
import os
import secrets
import sqlite3
import sys
import threading
import time

# Authlib refuses plain http unless told otherwise; this server is loopback only.
os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

from authlib.integrations.flask_oauth2 import AuthorizationServer  # noqa: E402
from authlib.jose import JsonWebKey  # noqa: E402
from authlib.oauth2 import OAuth2Error  # noqa: E402
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, grants  # noqa: E402
from authlib.oauth2.rfc7009 import RevocationEndpoint  # noqa: E402
from authlib.oauth2.rfc7523 import JWTBearerTokenGenerator  # noqa: E402
from authlib.oauth2.rfc7662 import IntrospectionEndpoint  # noqa: E402
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata  # noqa: E402
from flask import Flask, g, jsonify, request  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

AUDIENCES = {"https://api.example.test", "https://api-es.example.test", "https://api-opaque.example.test"}
SCOPES = ["read:users", "write:users", "delete:users"]
TOKEN_TTL = 600


class Client(ClientMixin):
    """An in-memory confidential client.

    auth_methods maps each endpoint the client may call ("token",
    "introspection", "revocation") to the client authentication methods it
    may use there. opaque clients get Authlib's default opaque tokens.
    """

    def __init__(self, client_id, client_secret, auth_methods, scope, opaque=False):
        self.client_id = client_id
        self.client_secret = client_secret
        self.auth_methods = auth_methods
        self.scope = scope
        self.opaque = opaque

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        allowed = set(self.scope.split())
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri):
        return False

    def check_client_secret(self, client_secret):
        return secrets.compare_digest(self.client_secret, client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return method in self.auth_methods.get(endpoint, ())

    def check_response_type(self, response_type):
        return False

    def check_grant_type(self, grant_type):
        return grant_type == "client_credentials" and "token" in self.auth_methods


CLIENTS = {
    c.client_id: c
    for c in [
        Client(
            "bearerguard-basic",
            "bearerguard-basic-secret-0123456789abcdef",
            {"token": ["client_secret_basic"]},
            "read:users write:users delete:users",
        ),
        Client(
            "bearerguard-post",
            "bearerguard-post-secret-0123456789abcdef",
            {"token": ["client_secret_post"]},
            "read:users write:users delete:users",
        ),
        Client(
            "bearerguard-opaque",
            "bearerguard-opaque-secret-0123456789abcdef",
            {"token": ["client_secret_basic"], "revocation": ["client_secret_basic"]},
            "read:users write:users delete:users",
            opaque=True,
        ),
        # The API itself, as a client of this server: introspection only.
        Client(
            "bearerguard-api",
            "bearerguard-api-secret-0123456789abcdef",
            {"introspection": ["client_secret_basic", "client_secret_post"]},
            "",
        ),
    ]
}
INTROSPECTOR = "bearerguard-api"


class InvalidTargetError(OAuth2Error):
    """RFC 8707 section 2: the requested resource is unknown."""

    error = "invalid_target"
    status_code = 400


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def validate_token_request(self):
        super().validate_token_request()
        audience = request.form.get("resource") or request.form.get("audience")
        if audience is not None and audience not in AUDIENCES:
            raise InvalidTargetError(description="unknown resource or audience")
        g.audience = audience


class TokenGenerator(JWTBearerTokenGenerator):
    """Authlib's JWT token generator plus aud, sub and jti."""

    def get_token_data(self, grant_type, client, expires_in, user=None, scope=None):
        data = super().get_token_data(grant_type, client, expires_in, user, scope)
        data["sub"] = client.get_client_id()
        data["jti"] = secrets.token_urlsafe(16)
        if g.get("audience"):
            data["aud"] = g.audience
        return data


def token_hash(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Token(TokenMixin):
    """One row of the tokens table."""

    def __init__(self, row):
        self.client_id = row["client_id"]
        self.scope = row["scope"]
        self.aud = row["aud"]
        self.issued_at = row["issued_at"]
        self.expires_at = row["expires_at"]
        self.revoked = bool(row["revoked"])
        self.hash = row["token_hash"]

    def check_client(self, client):
        return self.client_id == client.get_client_id()

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return self.expires_at - self.issued_at

    def is_expired(self):
        return self.expires_at <= time.time()

    def is_revoked(self):
        return self.revoked


class TokenStore:
    """Opaque access tokens in SQLite, by SHA-256 of the token."""

    SCHEMA = """CREATE TABLE IF NOT EXISTS tokens (
        token_hash TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        scope TEXT,
        aud TEXT,
        issued_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0
    )"""

    def __init__(self, path):
        # One connection shared by the server's threads, serialised by a lock.
        self.db = sqlite3.connect(path or ":memory:", check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.lock = threading.Lock()
        with self.lock:
            self.db.execute(self.SCHEMA)

    def save(self, access_token, client_id, scope, aud, expires_in):
        now = int(time.time())
        with self.lock:
            self.db.execute(
                "INSERT INTO tokens (token_hash, client_id, scope, aud, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (token_hash(access_token), client_id, scope, aud, now, now + expires_in),
            )

    def find(self, access_token):
        with self.lock:
            row = self.db.execute("SELECT * FROM tokens WHERE token_hash = ?", (token_hash(access_token),)).fetchone()
        return Token(row) if row else None

    def revoke(self, token):
        with self.lock:
            self.db.execute("UPDATE tokens SET revoked = 1 WHERE token_hash = ?", (token.hash,))


def make_endpoints(store, issuer):
    """Authlib's RFC 7662 and RFC 7009 endpoints over store."""

    def query_token(self, token_string, token_type_hint):
        # Only access tokens exist here; a refresh_token hint finds nothing.
        if token_type_hint == "refresh_token":
            return None
        return store.find(token_string)

    class Introspection(IntrospectionEndpoint):
        CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

        def check_permission(self, token, client, request):
            return client.get_client_id() == INTROSPECTOR

        def introspect_token(self, token):
            return {
                "active": True,
                "client_id": token.client_id,
                "token_type": "Bearer",
                "scope": token.scope,
                "sub": token.client_id,
                "aud": token.aud or token.client_id,
                "iss": issuer,
                "exp": token.expires_at,
                "iat": token.issued_at,
            }

    class Revocation(RevocationEndpoint):
        CLIENT_AUTH_METHODS = ["client_secret_basic"]

        def revoke_token(self, token, request):
            store.revoke(token)

    Introspection.query_token = query_token
    Revocation.query_token = query_token
    return Introspection, Revocation


def load_key(state_dir):
    path = os.path.join(state_dir, "jwks.json") if state_dir else ""
    if path and os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return json.load(f)["keys"][0]
    key = JsonWebKey.generate_key("RSA", 2048, is_private=True)
    jwk = key.as_dict(is_private=True)
    jwk["kid"] = key.thumbprint()
    jwk["use"] = "sig"
    jwk["alg"] = "RS256"
    if path:
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump({"keys": [jwk]}, f)
        os.replace(path + ".tmp", path)
    return jwk


def create_app(issuer, private_jwk, store):
    app = Flask(__name__)
    app.config["OAUTH2_SCOPES_SUPPORTED"] = SCOPES
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {"client_credentials": TOKEN_TTL}

    def save_token(token, req):
        if req.client.opaque:
            store.save(token["access_token"], req.client.get_client_id(), token.get("scope"),
                       g.get("audience"), token["expires_in"])

    server = AuthorizationServer(app, query_client=CLIENTS.get, save_token=save_token)
    server.register_grant(ClientCredentialsGrant)
    jwt_generator = TokenGenerator(private_jwk, issuer=issuer, alg="RS256")
    jwt_generator.DEFAULT_EXPIRES_IN = TOKEN_TTL
    # Authlib's default generator, the one Flask's AuthorizationServer
    # registers for every grant unless told otherwise.
    opaque_generator = server.create_bearer_token_generator(app.config)

    def generate(grant_type, client, **kwargs):
        gen = opaque_generator if client.opaque else jwt_generator
        return gen(grant_type=grant_type, client=client, **kwargs)

    server.register_token_generator("client_credentials", generate)
    introspection, revocation = make_endpoints(store, issuer)
    server.register_endpoint(introspection)
    server.register_endpoint(revocation)

    public_jwk = {k: v for k, v in private_jwk.items() if k not in ("d", "p", "q", "dp", "dq", "qi")}
    metadata = AuthorizationServerMetadata(
        {
            "issuer": issuer,
            "token_endpoint": issuer + "/oauth/token",
            "jwks_uri": issuer + "/.well-known/jwks.json",
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ClientCredentialsGrant.TOKEN_ENDPOINT_AUTH_METHODS,
            "introspection_endpoint": issuer + "/oauth/introspect",
            "introspection_endpoint_auth_methods_supported": introspection.CLIENT_AUTH_METHODS,
            "revocation_endpoint": issuer + "/oauth/revoke",
            "revocation_endpoint_auth_methods_supported": revocation.CLIENT_AUTH_METHODS,
            "scopes_supported": SCOPES,
            # RFC 8414 makes response_types_supported REQUIRED, but this
            # server has no authorization endpoint and so no response type:
            # the member is left out rather than filled with a false value.
        }
    )

    @app.post("/oauth/token")
    def token():
        return server.create_token_response()

    @app.post("/oauth/introspect")
    def introspect():
        return server.create_endpoint_response(IntrospectionEndpoint.ENDPOINT_NAME)

    @app.post("/oauth/revoke")
    def revoke():
        return server.create_endpoint_response(RevocationEndpoint.ENDPOINT_NAME)

    @app.get("/.well-known/jwks.json")
    def jwks():
        return jsonify({"keys": [public_jwk]})

    @app.get("/.well-known/oauth-authorization-server")
    @app.get("/.well-known/openid-configuration")
    def discovery():
        return jsonify(dict(metadata))

    return app


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "0")))
    parser.add_argument("--state", default=os.environ.get("STATE_DIR", ""))
    args = parser.parse_args()

    private_jwk = load_key(args.state)
    store = TokenStore(os.path.join(args.state, "tokens.db") if args.state else "")
    # Bind first so that port 0 resolves before the issuer is fixed.
    srv = make_server("127.0.0.1", args.port, None, threaded=True)
    issuer = "http://127.0.0.1:%d" % srv.server_port
    srv.app = create_app(issuer, private_jwk, store)
    print("kid " + private_jwk["kid"], flush=True)
    print("listening on " + issuer, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
