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

Metadata (RFC 8414) is served at /.well-known/oauth-authorization-server and,
with the same content, at /.well-known/openid-configuration, where many
deployments publish it; the keys are at /.well-known/jwks.json.
"""

import argparse
import json
import os
import secrets
import sys

# Authlib refuses plain http unless told otherwise; this server is loopback only.
os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

from authlib.integrations.flask_oauth2 import AuthorizationServer  # noqa: E402
from authlib.jose import JsonWebKey  # noqa: E402
from authlib.oauth2 import OAuth2Error  # noqa: E402
from authlib.oauth2.rfc6749 import ClientMixin, grants  # noqa: E402
from authlib.oauth2.rfc7523 import JWTBearerTokenGenerator  # noqa: E402
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata  # noqa: E402
from flask import Flask, g, jsonify, request  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

AUDIENCES = {"https://api.example.test", "https://api-es.example.test"}
SCOPES = ["read:users", "write:users", "delete:users"]
TOKEN_TTL = 600


class Client(ClientMixin):
    """An in-memory confidential client registered for one auth method."""

    def __init__(self, client_id, client_secret, auth_method, scope):
        self.client_id = client_id
        self.client_secret = client_secret
        self.auth_method = auth_method
        self.scope = scope

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
        return endpoint == "token" and method == self.auth_method

    def check_response_type(self, response_type):
        return False

    def check_grant_type(self, grant_type):
        return grant_type == "client_credentials"


CLIENTS = {
    c.client_id: c
    for c in [
        Client(
            "bearerguard-basic",
            "bearerguard-basic-secret-0123456789abcdef",
            "client_secret_basic",
            "read:users write:users delete:users",
        ),
        Client(
            "bearerguard-post",
            "bearerguard-post-secret-0123456789abcdef",
            "client_secret_post",
            "read:users write:users delete:users",
        ),
    ]
}


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


def create_app(issuer, private_jwk):
    app = Flask(__name__)
    app.config["OAUTH2_SCOPES_SUPPORTED"] = SCOPES
    server = AuthorizationServer(
        app,
        query_client=CLIENTS.get,
        save_token=lambda token, req: None,
    )
    server.register_grant(ClientCredentialsGrant)
    generator = TokenGenerator(private_jwk, issuer=issuer, alg="RS256")
    generator.DEFAULT_EXPIRES_IN = TOKEN_TTL
    server.register_token_generator("client_credentials", generator)

    public_jwk = {k: v for k, v in private_jwk.items() if k not in ("d", "p", "q", "dp", "dq", "qi")}
    metadata = AuthorizationServerMetadata(
        {
            "issuer": issuer,
            "token_endpoint": issuer + "/oauth/token",
            "jwks_uri": issuer + "/.well-known/jwks.json",
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ClientCredentialsGrant.TOKEN_ENDPOINT_AUTH_METHODS,
            "scopes_supported": SCOPES,
            # RFC 8414 makes response_types_supported REQUIRED, but this
            # server has no authorization endpoint and so no response type:
            # the member is left out rather than filled with a false value.
        }
    )

    @app.post("/oauth/token")
    def token():
        return server.create_token_response()

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
    # Bind first so that port 0 resolves before the issuer is fixed.
    srv = make_server("127.0.0.1", args.port, None, threaded=True)
    issuer = "http://127.0.0.1:%d" % srv.server_port
    srv.app = create_app(issuer, private_jwk)
    print("kid " + private_jwk["kid"], flush=True)
    print("listening on " + issuer, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
