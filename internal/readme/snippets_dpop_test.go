package readme

import (
	"context"
	"net/http"

	"github.com/bearerguard/bearerguard/middleware"
)

// The README section "DPoP and mTLS".

func dpopSnippet(ctx context.Context, replayStore middleware.ReplayStore, payments http.Handler) (*middleware.Validator, error) {
	v, err := middleware.New(ctx, middleware.Config{
		Issuer:    "https://auth.example.com",
		Audiences: []string{"https://api.example.com"},
		DPoP: middleware.DPoP{
			Mode:          middleware.DPoPAllowed,    // Bearer and DPoP; DPoPRequired: DPoP only
			PublicBaseURL: "https://api.example.com", // behind a proxy: the htu clients sign
			ReplayStore:   replayStore,               // shared by every replica, see below
		},
	})
	http.Handle("/payments", v.Require(middleware.Policy{Scopes: []string{"payments:write"}, DPoP: middleware.DPoPRequired})(payments))
	return v, err
}

func mtlsSnippet(ctx context.Context) (*middleware.Validator, error) {
	return middleware.New(ctx, middleware.Config{
		Issuer:    "https://auth.example.com",
		Audiences: []string{"https://api.example.com"},
		MTLS: middleware.MTLS{
			CertificateHeader:       "X-Client-Cert",  // nginx: proxy_set_header X-Client-Cert $ssl_client_escaped_cert;
			CertificateHeaderFormat: "pem-urlencoded", // or "xfcc" for Envoy's X-Forwarded-Client-Cert (Hash= or Cert=)
		},
	})
}
